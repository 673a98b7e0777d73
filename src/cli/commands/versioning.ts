/**
 * `mpu diff` and `mpu replay`: the versioning engine on files, no Redis.
 */
import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  classifyChange,
  detectKind,
  nextVersion,
  parseDescriptor,
  replayHistory,
  type AppKind,
  type Classification,
  type Replay,
} from '../../versioning/index.js';
import { isDirectory, readFolderHistory, readGitHistory } from '../../replay/read-history.js';
import { loadPolicyFile } from '../policy-file.js';
import { runAction } from '../run-action.js';
import { formatClassification, formatReplay } from '../format-versioning.js';
import { createProgress } from '../progress.js';
import { simulateReplayRollout } from '../../replay/simulate-replay.js';

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new AppError(ErrorCode.INPUT_INVALID, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

const kindOption = () =>
  new Option(
    '--kind <kind>',
    'connect (atlassian-connect.json) or forge (manifest.yml); detected from the file when omitted',
  ).choices(['connect', 'forge']);

/** What `mpu diff` computes: the kind both files are, the versions before and after, and why. */
export interface DiffResult {
  kind: AppKind;
  /** `--from`, or the kind's first version. */
  from: string;
  to: string;
  classification: Classification;
}

/**
 * `mpu diff OLD NEW`: reads, parses and classifies two files of one kind (`kind`, else detected
 * from each file's name and content). `from` must be a version of that kind: Forge versions are
 * `major.minor.0`.
 * @throws AppError input-invalid (unreadable file; a Connect file against a Forge one; a `from`
 *   that is not a version, or a Forge one with a patch); descriptor-invalid; policy-invalid.
 */
export async function diffFiles(
  oldFile: string,
  newFile: string,
  opts: { kind?: AppKind; from?: string; policy?: string },
): Promise<DiffResult> {
  const policy = await loadPolicyFile(opts.policy);
  const [oldText, newText] = await Promise.all([readText(oldFile), readText(newFile)]);
  const kind = opts.kind ?? detectKind(oldText, oldFile);
  const newKind = opts.kind ?? detectKind(newText, newFile);
  if (newKind !== kind) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${oldFile} is a ${kind} ${KIND_FILE[kind]} and ${newFile} a ${newKind} ${KIND_FILE[newKind]}: ` +
        'they are different kinds of app; compare two versions of the same app',
      { details: { old: { file: oldFile, kind }, new: { file: newFile, kind: newKind } } },
    );
  }
  if (opts.from !== undefined) checkFromVersion(kind, opts.from);
  const before = parseDescriptor(oldText, { source: oldFile, kind });
  const after = parseDescriptor(newText, { source: newFile, kind });
  const classification = classifyChange(before, after, policy);
  const from = opts.from ?? nextVersion(kind, null, 'none');
  return { kind, from, to: nextVersion(kind, from, classification.bump), classification };
}

const KIND_FILE: Record<AppKind, string> = { connect: 'descriptor', forge: 'manifest' };

/** `--from` is a plain `major.minor.micro`; a Forge one has patch 0. @throws AppError input-invalid */
function checkFromVersion(kind: AppKind, from: string): void {
  const v = semver.parse(from);
  if (!v || v.prerelease.length > 0 || v.build.length > 0)
    throw new AppError(ErrorCode.INPUT_INVALID, `--from ${JSON.stringify(from)} is not a version (major.minor.micro)`);
  if (kind === 'forge' && v.patch !== 0)
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `--from ${from}: Forge versions are major.minor.0 (the patch is always 0); did you mean ${v.major}.${v.minor}.0?`,
    );
}

/** Registers `diff` and `replay` on `program`. */
export function registerVersioningCommands(program: Command): void {
  program
    .command('diff')
    .summary('classify the change between two descriptor versions')
    .description(
      'Classify the change from OLD to NEW (atlassian-connect.json or manifest.yml) by the Marketplace ' +
        'rules: the bump (major/minor/micro), whether admins must approve it, and why.',
    )
    .argument('<old>', 'the previous descriptor or manifest')
    .argument('<new>', 'the new descriptor or manifest')
    .addOption(kindOption())
    .option(
      '--from <version>',
      'the version OLD has, to compute the next one (default: the first version, 1.0.0 or 2.0.0; Forge: major.minor.0)',
    )
    .option('--policy <file>', 'a versioning policy override (JSON or YAML)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mpu diff v1/atlassian-connect.json v2/atlassian-connect.json\n  mpu diff old.yml new.yml --from 3.2.0 --json\n\nExit status: 0 classified; 65 a file does not parse, the files are of different kinds or --from is no version of their kind; 78 the policy is invalid.',
    )
    .action(
      runAction(
        async (
          oldFile: string,
          newFile: string,
          opts: { kind?: AppKind; from?: string; policy?: string; json?: boolean },
        ) => {
          const { kind, from, to, classification: c } = await diffFiles(oldFile, newFile, opts);
          if (opts.json) {
            process.stdout.write(
              JSON.stringify(
                {
                  kind,
                  from,
                  to,
                  bump: c.bump,
                  approval: c.approval,
                  reasons: c.reasons,
                  warnings: c.warnings,
                  changes: c.changes,
                },
                null,
                2,
              ) + '\n',
            );
          } else {
            process.stdout.write(formatClassification(c, from, to) + '\n');
          }
        },
      ),
    );

  program
    .command('replay')
    .summary('replay a descriptor history: versions, bumps and approvals')
    .description(
      'Replay a descriptor history as the Marketplace would see it: for each change its date, file or ' +
        'commit, the new version, bump, approval and reasons; then a summary. SOURCE is a folder of ' +
        'versions (.json, .yml, .yaml, in file-name order; other files ignored), or use --git with --file.',
    )
    .argument('[source]', 'folder of descriptor versions')
    .option('--git <repo>', 'a git repository whose history of --file to replay')
    .option('--file <path>', 'the descriptor path inside --git (e.g. atlassian-connect.json or manifest.yml)')
    .addOption(kindOption())
    .option('--policy <file>', 'a versioning policy override (JSON or YAML)')
    .option(
      '--installations <n>',
      "also simulate each version's rollout to N generated installations (no Redis)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0 || n > 1_000_000)
          throw new InvalidArgumentError('--installations must be a whole number from 1 to 1,000,000');
        return n;
      },
    )
    .option('--seed <n>', 'seed of the generated installations', (v) => Number(v), 1)
    .option('--json', 'print the timeline and summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mpu replay ../shared/fixtures/real/connect/jmigueprieto__ticket-linter\n  mpu replay ../shared/fixtures/real/connect/ZenUml__confluence-plugin-cloud --installations 10000\n  mpu replay --git ~/src/my-app --file atlassian-connect.json --json\n\nExit status: 0 replayed (unparseable versions are reported in the timeline); 65 bad input.',
    )
    .action(
      runAction(
        async (
          source: string | undefined,
          opts: {
            git?: string;
            file?: string;
            kind?: AppKind;
            policy?: string;
            json?: boolean;
            installations?: number;
            seed: number;
          },
        ) => {
          const policy = await loadPolicyFile(opts.policy);
          let items;
          if (opts.git) {
            if (!opts.file)
              throw new AppError(
                ErrorCode.INPUT_INVALID,
                '--git needs --file: the descriptor path inside the repository',
              );
            const reading = createProgress(process.stderr, 'reading git history');
            try {
              items = await readGitHistory(opts.git, opts.file, reading.update);
            } finally {
              reading.done();
            }
          } else {
            if (!source)
              throw new AppError(
                ErrorCode.INPUT_INVALID,
                'give a folder of descriptor versions, or --git REPO --file PATH',
              );
            if (!(await isDirectory(source))) throw new AppError(ErrorCode.INPUT_INVALID, `${source} is not a folder`);
            items = await readFolderHistory(source);
          }
          const first = items[0]!;
          const kind = opts.kind ?? detectKind(first.text, opts.file ?? first.label);
          const progress = createProgress(process.stderr, 'replaying');
          let replay: Replay;
          try {
            replay = replayHistory(items, kind, policy, progress.update);
          } finally {
            progress.done();
          }
          const rollouts = opts.installations
            ? simulateReplayRollout(replay, { installations: opts.installations, seed: opts.seed })
            : undefined;
          if (opts.json)
            process.stdout.write(JSON.stringify(rollouts ? { ...replay, rollouts } : replay, null, 2) + '\n');
          else process.stdout.write(formatReplay(replay, rollouts) + '\n');
        },
      ),
    );
}
