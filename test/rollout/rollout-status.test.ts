/**
 * The rollout status state machine (src/rollout/rollout-status.ts), as table tests: every
 * action from every status, and the status after planning ends.
 */
import { describe, expect, it } from 'vitest';
import {
  completePlanning,
  transitionRollout,
  type RolloutAction,
  type RolloutStatus,
  type RolloutStatusState,
} from '../../src/rollout/rollout-status.js';

const st = (status: RolloutStatus, resumeTo: RolloutStatus | null = null): RolloutStatusState => ({ status, resumeTo });

describe('transitionRollout', () => {
  it.each<[RolloutStatusState, RolloutAction, RolloutStatusState, boolean]>([
    // pause: remembers the status to resume to; pausing twice changes nothing
    [st('planning'), 'pause', st('paused', 'planning'), true],
    [st('scheduled'), 'pause', st('paused', 'scheduled'), true],
    [st('awaiting-approval'), 'pause', st('paused', 'awaiting-approval'), true],
    [st('paused', 'scheduled'), 'pause', st('paused', 'scheduled'), false],
    // resume: back to the remembered status (scheduled when none); a running rollout stays
    [st('paused', 'planning'), 'resume', st('planning'), true],
    [st('paused', 'awaiting-approval'), 'resume', st('awaiting-approval'), true],
    [st('paused'), 'resume', st('scheduled'), true],
    [st('planning'), 'resume', st('planning'), false],
    [st('scheduled'), 'resume', st('scheduled'), false],
    [st('awaiting-approval'), 'resume', st('awaiting-approval'), false],
    // halt: final, from anywhere; halting twice changes nothing
    [st('planning'), 'halt', st('halted'), true],
    [st('scheduled'), 'halt', st('halted'), true],
    [st('awaiting-approval'), 'halt', st('halted'), true],
    [st('paused', 'scheduled'), 'halt', st('halted'), true],
    [st('halted'), 'halt', st('halted'), false],
  ])('%o %s -> %o (changed %s)', (current, action, next, changed) => {
    expect(transitionRollout(current, action)).toEqual({ ok: true, next, changed });
  });

  it.each<RolloutAction>(['pause', 'resume'])('%s of a halted rollout is a conflict', (action) => {
    expect(transitionRollout(st('halted'), action)).toEqual({ ok: false, reason: 'conflict', status: 'halted' });
  });

  it('pause then resume returns to where it was, from every running status', () => {
    for (const s of ['planning', 'scheduled', 'awaiting-approval'] as const) {
      const paused = transitionRollout(st(s), 'pause');
      if (!paused.ok) throw new Error('pause refused');
      const resumed = transitionRollout(paused.next, 'resume');
      expect(resumed).toEqual({ ok: true, next: st(s), changed: true });
    }
  });
});

describe('completePlanning', () => {
  it.each<[RolloutStatusState, RolloutStatus, RolloutStatusState]>([
    [st('planning'), 'scheduled', st('scheduled')],
    [st('planning'), 'awaiting-approval', st('awaiting-approval')],
    // a pause that came meanwhile wins; it resumes to the planned status
    [st('paused', 'planning'), 'scheduled', st('paused', 'scheduled')],
    [st('paused', 'planning'), 'awaiting-approval', st('paused', 'awaiting-approval')],
    // a halt wins; a plan run again after it ended changes nothing
    [st('halted'), 'scheduled', st('halted')],
    [st('scheduled'), 'awaiting-approval', st('scheduled')],
    [st('awaiting-approval'), 'scheduled', st('awaiting-approval')],
  ])('%o planned %s -> %o', (current, planned, next) => {
    expect(completePlanning(current, planned)).toEqual(next);
  });
});
