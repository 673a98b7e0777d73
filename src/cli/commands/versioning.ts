/**
 * `mpu diff` and `mpu replay`: the versioning engine on files, no Redis.
 */
import { readFile } from 'node:fs/promises';
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
      'the version OLD has, to compute the next one (default: the first version, 1.0.0 or 2.0.0)',
    )
    .option('--policy <file>', 'a versioning policy override (JSON or YAML)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mpu diff v1/atlassian-connect.json v2/atlassian-connect.json\n  mpu diff old.yml new.yml --from 3.2.0 --json\n\nExit status: 0 classified; 65 a file does not parse; 78 the policy is invalid.',
    )
    .action(
      runAction(
        async (
          oldFile: string,
          newFile: string,
          opts: { kind?: AppKind; from?: string; policy?: string; json?: boolean },
        ) => {
          const policy = await loadPolicyFile(opts.policy);
          const [oldText, newText] = await Promise.all([readText(oldFile), readText(newFile)]);
          const kind = opts.kind ?? detectKind(oldText, oldFile);
          const before = parseDescriptor(oldText, { source: oldFile, kind });
          const after = parseDescriptor(newText, { source: newFile, kind });
          const c: Classification = classifyChange(before, after, policy);
          const from = opts.from ?? nextVersion(kind, null, 'none');
          const to = nextVersion(kind, from, c.bump);
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
