/**
 * When each Connect app is polled (DESIGN.md, "Detection rules"; seed 003: every 5 hours).
 * Pure: apps are spread over the interval by a stable per-app offset derived from the app id,
 * and time is cut into numbered slots; a slot number names a poll, so every daemon that finds
 * the same app due enqueues the same job id.
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
