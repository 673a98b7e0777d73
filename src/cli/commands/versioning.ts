/**
 * `mpu diff` and `mpu replay`: the versioning engine on files, no Redis.
 */
import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AppError, ErrorCode } from '../../lib/errors.js';
import {
  CONNECT_PRODUCTS,
  classifyChange,
  detectKind,
  judgeAdoption,
  nextVersion,
  parseDescriptor,
  replayHistory,
  replayMove,
  type AdoptionVerdict,
  type AppKind,
  type Classification,
  type ConnectProduct,
  type HistoryItem,
  type Replay,
} from '../../versioning/index.js';
import { isDirectory, readFolderHistory, readGitHistory } from '../../replay/read-history.js';
import { loadPolicyFile } from '../policy-file.js';
import { runAction } from '../run-action.js';
import { formatAdoption, formatClassification, formatReplay } from '../format-versioning.js';
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

const productOption = () =>
  new Option(
    '--product <product>',
    "the Connect app's product, whose scope rules apply; inferred from module types when omitted (else jira)",
  ).choices([...CONNECT_PRODUCTS]);

/** What `mpu diff` computes: the kind both files are, the versions before and after, and why. */
export interface DiffResult {
  kind: AppKind;
  /** `--from`, or the kind's first version. */
  from: string;
  to: string;
  classification: Classification;
}

/** What `mpu diff CONNECT.json MANIFEST.yml` computes: the move's verdict and the version it gives. */
export interface AdoptionDiffResult {
  kind: 'connect-to-forge';
  /** `--from` (the Connect version), or 1.0.0. */
  from: string;
  to: string;
  verdict: AdoptionVerdict;
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
  opts: { kind?: AppKind; from?: string; policy?: string; product?: ConnectProduct },
): Promise<DiffResult | AdoptionDiffResult> {
  const policy = await loadPolicyFile(opts.policy);
  const [oldText, newText] = await Promise.all([readText(oldFile), readText(newFile)]);
  const kind = opts.kind ?? detectKind(oldText, oldFile);
  const newKind = opts.kind ?? detectKind(newText, newFile);
  const classifyOpts = opts.product ? { product: opts.product, productBy: '--product' } : {};
  // A Connect descriptor then a Forge manifest is the move to Forge (DESIGN.md, "Connect to Forge
  // adoption"); the other way round stays refused below: a Forge app does not become a Connect one.
  if (kind === 'connect' && newKind === 'forge') {
    if (opts.from !== undefined) checkFromVersion('connect', opts.from);
    const descriptor = parseDescriptor(oldText, { source: oldFile, kind: 'connect' });
    const manifest = parseDescriptor(newText, { source: newFile, kind: 'forge' });
    const verdict = judgeAdoption(descriptor, manifest, policy, classifyOpts);
    const from = opts.from ?? nextVersion('connect', null, 'none');
    return { kind: 'connect-to-forge', from, to: nextVersion('forge', from, verdict.bump), verdict };
  }
  if (newKind !== kind) {
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `${oldFile} is a ${kind} ${KIND_FILE[kind]} and ${newFile} a ${newKind} ${KIND_FILE[newKind]}: ` +
        (kind === 'forge'
          ? 'a Forge app does not move back to Connect; compare two versions of the same app, or a Connect ' +
            'descriptor (old) with the Forge manifest that adopts it (new)'
          : 'they are different kinds of app; compare two versions of the same app'),
      { details: { old: { file: oldFile, kind }, new: { file: newFile, kind: newKind } } },
    );
  }
  if (opts.from !== undefined) checkFromVersion(kind, opts.from);
  const before = parseDescriptor(oldText, { source: oldFile, kind });
  const after = parseDescriptor(newText, { source: newFile, kind });
  const classification = classifyChange(before, after, policy, classifyOpts);
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
    .argument('<old>', 'the previous descriptor or manifest (a Connect descriptor, for the move to Forge)')
    .argument('<new>', 'the new descriptor or manifest (the Forge manifest adopting OLD, for the move to Forge)')
    .addOption(kindOption())
    .addOption(productOption())
    .option(
      '--from <version>',
      'the version OLD has, to compute the next one (default: the first version, 1.0.0 or 2.0.0; Forge: major.minor.0)',
    )
    .option('--policy <file>', 'a versioning policy override (JSON or YAML)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nA Connect descriptor (OLD) and a Forge manifest whose app.connect.key names it (NEW) give the verdict on ' +
        'the move to Forge: minor and automatic when the manifest asks for nothing beyond the descriptor, major and ' +
        'manual otherwise.\n\nExamples:\n  mpu diff v1/atlassian-connect.json v2/atlassian-connect.json --product confluence\n' +
        '  mpu diff old.yml new.yml --from 3.2.0 --json\n  mpu diff atlassian-connect.json manifest.yml --json\n\n' +
        'Exit status: 0 classified; 65 a file does not parse, the files are of different kinds (a Forge manifest then ' +
        'a Connect descriptor), app.connect.key does not name the Connect app, or --from is no version of their kind; ' +
        '78 the policy is invalid.',
    )
    .action(
      runAction(
        async (
          oldFile: string,
          newFile: string,
          opts: { kind?: AppKind; from?: string; policy?: string; json?: boolean; product?: ConnectProduct },
        ) => {
          const result = await diffFiles(oldFile, newFile, opts);
          if (result.kind === 'connect-to-forge') {
            const { from, to, verdict: v } = result;
            if (opts.json)
              process.stdout.write(
                JSON.stringify(
                  {
                    kind: v.kind,
                    from,
                    to,
                    bump: v.bump,
                    approval: v.approval,
                    reasons: v.reasons,
                    product: v.product,
                    connectKey: v.connectKey,
                    forgeAppId: v.forgeAppId,
                  },
                  null,
                  2,
                ) + '\n',
              );
            else process.stdout.write(formatAdoption(v, from, to) + '\n');
            return;
          }
          const { kind, from, to, classification: c } = result;
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
                  ...(c.product ? { product: c.product } : {}),
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
    .option(
      '--forge-file <path>',
      'with --git and a Connect --file: the Forge manifest adopting the app (e.g. manifest.yml); its history follows the move',
    )
    .addOption(kindOption())
    .addOption(productOption())
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
    .option(
      '--approve-share <s>',
      'with --installations: the share (0 to 1, e.g. 0.6) of installations whose admins approve each version that needs approval (within 48 h of its notice); default 0, nobody approves',
      (v) => {
        const s = Number(v);
        if (v.trim() === '' || !Number.isFinite(s) || s < 0 || s > 1)
          throw new InvalidArgumentError('--approve-share must be a number from 0 to 1, e.g. 0.6');
        return s;
      },
    )
    .option('--json', 'print the timeline and summary as JSON')
    .addHelpText(
      'after',
      '\nA history holding both kinds (a folder of .json and .yml versions, or --file and --forge-file) moves from ' +
        'Connect to Forge: the Connect versions, then the adoption step (the first Forge manifest judged against the ' +
        'last Connect version), then the Forge versions by Forge rules.\n' +
        '\nExamples:\n  mpu replay ../shared/fixtures/real/connect/jmigueprieto__ticket-linter\n  mpu replay ../shared/fixtures/real/connect/ZenUml__confluence-plugin-cloud --installations 10000 --approve-share 0.6\n  mpu replay --git ~/src/my-app --file atlassian-connect.json --json\n  mpu replay --git ~/src/my-app --file atlassian-connect.json --forge-file manifest.yml\n\nExit status: 0 replayed (unparseable versions are reported in the timeline); 65 bad input.',
    )
    .action(
      runAction(
        async (
          source: string | undefined,
          opts: {
            git?: string;
            file?: string;
            forgeFile?: string;
            product?: ConnectProduct;
            kind?: AppKind;
            policy?: string;
            json?: boolean;
            installations?: number;
            seed: number;
            approveShare?: number;
          },
        ) => {
          const policy = await loadPolicyFile(opts.policy);
          const classifyOpts = opts.product ? { product: opts.product, productBy: '--product' } : {};
          let items: HistoryItem[];
          let forgeItems: HistoryItem[] = [];
          if (opts.forgeFile && !opts.git)
            throw new AppError(
              ErrorCode.INPUT_INVALID,
              '--forge-file goes with --git and --file; a folder holding both kinds needs neither',
            );
          if (opts.git) {
            if (!opts.file)
              throw new AppError(
                ErrorCode.INPUT_INVALID,
                '--git needs --file: the descriptor path inside the repository',
              );
            const reading = createProgress(process.stderr, 'reading git history');
            try {
              items = await readGitHistory(opts.git, opts.file, reading.update);
              if (opts.forgeFile) forgeItems = await readGitHistory(opts.git, opts.forgeFile, reading.update);
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
            // A folder holding both kinds is a move: its .json versions are the Connect app's.
            if (!opts.kind) {
              const connect = items.filter((i) => detectKind(i.text, i.label) === 'connect');
              if (connect.length > 0 && connect.length < items.length) {
                forgeItems = items.filter((i) => !connect.includes(i));
                items = connect;
              }
            }
          }
          const first = items[0]!;
          const kind = opts.kind ?? detectKind(first.text, opts.file ?? first.label);
          if (forgeItems.length > 0 && kind !== 'connect')
            throw new AppError(
              ErrorCode.INPUT_INVALID,
              `--forge-file follows a Connect app's history: ${opts.file ?? first.label} is a ${kind} file`,
            );
          const progress = createProgress(process.stderr, 'replaying');
          let replay: Replay;
          try {
            replay =
              forgeItems.length > 0
                ? replayMove(items, forgeItems, policy, progress.update, classifyOpts)
                : replayHistory(items, kind, policy, progress.update, classifyOpts);
          } finally {
            progress.done();
          }
          if (opts.approveShare !== undefined && !opts.installations)
            throw new AppError(ErrorCode.INPUT_INVALID, '--approve-share goes with --installations N');
          const rollouts = opts.installations
            ? simulateReplayRollout(replay, {
                installations: opts.installations,
                seed: opts.seed,
                approveShare: opts.approveShare,
              })
            : undefined;
          if (opts.json)
            process.stdout.write(JSON.stringify(rollouts ? { ...replay, rollouts } : replay, null, 2) + '\n');
          else process.stdout.write(formatReplay(replay, rollouts) + '\n');
        },
      ),
    );
}
