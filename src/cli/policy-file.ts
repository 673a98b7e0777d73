import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { AppError, ErrorCode } from '../lib/errors.js';
import { defaultPolicy, parsePolicy, type VersioningPolicy } from '../versioning/policy.js';

/**
 * Loads a versioning policy override file (JSON or YAML; see `parsePolicy`), or the defaults when
 * `file` is undefined.
 * @throws AppError `policy-invalid` when the file cannot be read or does not fit.
 */
export async function loadPolicyFile(file: string | undefined): Promise<VersioningPolicy> {
  if (!file) return defaultPolicy;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AppError(ErrorCode.POLICY_INVALID, `cannot read policy file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let value: unknown;
  try {
    value = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new AppError(ErrorCode.POLICY_INVALID, `${file}: not valid JSON or YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parsePolicy(value);
}
