/**
 * `mpu … --help` reads well at any terminal width: descriptions are not hard-wrapped in the middle
 * of a sentence (commander wraps each description to the terminal; a '\n' inside a sentence
 * would break it a second time, mid-line). A line break may only end a sentence or clause, or
 * come before a blank or indented line (a paragraph, an example block).
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerDaemonCommands } from '../../src/cli/commands/daemon.js';
import { registerDemoCommand } from '../../src/cli/commands/demo.js';
import { registerDistributionCommands } from '../../src/cli/commands/distribution.js';
import { registerRolloutCommands } from '../../src/cli/commands/rollout.js';
import { registerVersioningCommands } from '../../src/cli/commands/versioning.js';

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/** The line breaks of `text` that fall inside a sentence. */
function breaksMidSentence(text: string): string[] {
  const lines = text.split('\n');
  return lines.flatMap((line, i) => {
    const next = lines[i + 1];
    if (next === undefined || next === '' || /^\s/.test(next) || line === '') return [];
    return /[.:;!?]$/.test(line.trimEnd()) ? [] : [`${line}⏎${next}`];
  });
}

describe('mpu --help', () => {
  const program = new Command('mpu');
  registerVersioningCommands(program);
  registerDaemonCommands(program);
  registerRolloutCommands(program);
  registerDemoCommand(program);
  registerDistributionCommands(program);
  const commands = allCommands(program).filter((c) => c !== program);

  it.each(commands.map((c) => [c.name(), c] as const))('%s: no line break inside a sentence', (_name, cmd) => {
    const texts = [cmd.description(), ...cmd.options.map((o) => o.description)];
    expect(texts.flatMap(breaksMidSentence)).toEqual([]);
  });

  it('wraps at the terminal width (80 columns): no help line is longer', () => {
    for (const cmd of commands) {
      cmd.configureHelp({ helpWidth: 80 });
      const long = cmd
        .helpInformation()
        .split('\n')
        .filter((l) => l.length > 80 && !l.startsWith('  {') && !l.startsWith('   '));
      expect(long, cmd.name()).toEqual([]);
    }
  });
});
