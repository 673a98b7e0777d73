/**
 * When each Connect app is polled (DESIGN.md, "Detection rules"; seed 003: every 5 hours).
 * Pure: apps are spread over the interval by a stable per-app offset derived from the app id,
 * and time is cut into numbered slots; a slot number names a poll (the slot of the app's
 * schedule entry, schedule-polls.ts), so every daemon that finds the same app due enqueues the
 * same job id.
 */
import { hash } from 'node:crypto';

/** Stable offset of `appId` inside the interval, in ms: `[0, intervalMs)`. */
export function pollOffset(appId: string, intervalMs: number): number {
  // One-shot `hash` (Node ≥ 20.12): the scheduler computes this for every due app each tick.
  const h = hash('sha256', appId, 'buffer');
  // 48 bits are plenty to spread apps evenly and stay exact in a double.
  return h.readUIntBE(0, 6) % intervalMs;
}

/** The poll slot that contains `now`: its number and start/end times (epoch ms). */
export interface PollSlot {
  /** Slot number: the n-th interval since the epoch, shifted by the app's offset. */
  slot: number;
  /** When the slot starts (the poll is due), epoch ms. */
  dueAt: number;
  /** When the next slot starts, epoch ms. */
  nextDueAt: number;
}

/** The slot of `appId` that contains `now` (epoch ms), for an interval of `intervalMs` (default 5 h). */
export function pollSlot(appId: string, now: number, intervalMs: number): PollSlot {
  const offset = pollOffset(appId, intervalMs);
  const slot = Math.floor((now - offset) / intervalMs);
  const dueAt = slot * intervalMs + offset;
  return { slot, dueAt, nextDueAt: dueAt + intervalMs };
}

/**
 * When an app polled at `now` (the scheduler's tick that enqueued it) is next due: the start of
 * its next slot, but never less than half an interval after this poll.
 *
 * The rule, and why (DESIGN.md "Detection rules"; seed 003): a changed descriptor must yield a
 * version within the interval (5 h), so two polls of an app are never more than one interval
 * apart; apps are spread by their stable offset, so an app returns to its slots; and a new app's
 * first version should not wait for its slot, so registration polls at once (the next tick),
 * and that poll is the poll of the slot it falls in. Its next slot may then start seconds later:
 * polling again there would fetch the same descriptor twice in a row (on a fleet, a second burst
 * of every app registered in bulk). Moving the next poll to `now + interval / 2` keeps it in the
 * next slot (so each slot is still polled once) and keeps every gap between polls within
 * [interval / 2, interval]; the poll after it falls on the slot start again. A poll on time
 * (`now` at its slot start) is unaffected; a poll made late by an outage is treated like a
 * registration.
 *
 * Trade-off: two polls may still come half an interval apart once, while an app moves from its
 * registration time to its offset; no two polls closer than that and no gap longer than the
 * interval cannot both hold with a stable offset that differs from the registration time
 * (equal gaps would make the registration time the offset, and apps registered together would
 * then be polled together forever).
 * @returns epoch ms; always within the slot after the one that contains `now`
 */
export function nextPollDueAt(appId: string, now: number, intervalMs: number): number {
  return Math.max(pollSlot(appId, now, intervalMs).nextDueAt, now + Math.floor(intervalMs / 2));
}
