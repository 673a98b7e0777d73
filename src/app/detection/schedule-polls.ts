/**
 * Which Connect apps are polled now (DESIGN.md "Detection rules": every app every 5 hours, at a
 * stable per-app offset; many daemons must not poll twice): every app whose slot is due is handed
 * to the poll port in chunks of at most `pollBatchSize` apps (smaller for a small burst, see
 * `chunkSize`), then moved to its next slot, never less than
 * half an interval away (`nextPollDueAt`: a new app's registration poll is its slot's poll).
 *
 * A poll is named by its schedule entry: the slot that contains the entry's due time, not the
 * slot of the tick's time. Two daemons may read the same entry (the second reads before the first
 * has moved it on); their ticks' times differ, and when an app's slot boundary lies between them
 * (an app registered just before its next slot starts), slots taken from the ticks' times would
 * name two polls of one entry, both claimed, and fetch the app twice in a row. Named by the
 * entry, both daemons name the same poll: chunk job ids name their apps and slots, so they enqueue
 * each chunk once; should their chunks differ, each app's slot is claimed on its record when
 * polled (AppStore.claimPolls), so it is still polled once. A late entry (an outage, a lagging
 * daemon) is named by its own, older slot: slots claimed on an app still only increase, since
 * every entry is moved to the slot after the tick's. The schedule only moves forward
 * (PollScheduleStore.rescheduleMany), so a daemon whose clock lags or goes back never re-arms a
 * slot already enqueued.
 */
import type { PollBatchJob } from '../../jobs/queues.js';
import { nextPollDueAt, pollSlot } from '../../poller/poll-schedule.js';
import type { AppContext } from '../context.js';

/** What one tick did. */
export interface TickResult {
  /** Apps found due. */
  due: number;
}

/** Due apps read per page (one ZRANGEBYSCORE, one enqueue, one ZADD each). */
const PAGE = 1_000;
/**
 * A page of due apps is split into this many chunks at least, when chunks stay at least
 * `MIN_CHUNK` apps: a burst (apps registered together, a restart after an outage) becomes enough
 * jobs for every daemon to take a share, each daemon taking only the chunks it can start at once
 * (poll.worker.ts), while a large page still uses chunks of `pollBatchSize`.
 */
const CHUNKS_PER_PAGE = 8;
const MIN_CHUNK = 10;

/** Apps per chunk for `due` apps due together (deterministic: daemons ticking at once chunk alike). */
export function chunkSize(due: number, pollBatchSize: number): number {
  return Math.max(1, Math.min(pollBatchSize, Math.max(MIN_CHUNK, Math.ceil(due / CHUNKS_PER_PAGE))));
}

/** Enqueues the polls due at `clock.now()`. Safe to run concurrently in several daemons. */
export async function enqueueDuePolls(
  ctx: Pick<AppContext, 'schedule' | 'clock' | 'logger' | 'settings' | 'enqueuePollBatches'>,
): Promise<TickResult> {
  const now = ctx.clock.now();
  const { pollIntervalMs, pollBatchSize } = ctx.settings;
  let total = 0;
  for (;;) {
    const due = await ctx.schedule.due(now, PAGE);
    if (due.length === 0) break;
    total += due.length;
    // The entry's slot (see above), not the slot of `now`.
    const slots = due.map(({ appId, dueAt }) => ({ appId, slot: pollSlot(appId, dueAt, pollIntervalMs) }));
    const jobs: PollBatchJob[] = [];
    const size = chunkSize(due.length, pollBatchSize);
    for (let i = 0; i < slots.length; i += size) {
      jobs.push({
        v: 1,
        polls: slots.slice(i, i + size).map(({ appId, slot }) => ({ appId, slot: slot.slot })),
      });
    }
    await ctx.enqueuePollBatches(jobs);
    // Never back (a slower daemon's tick), never re-added (an app removed since it was read).
    // The start of the slot after now's, or half an interval from now if later (a registration's
    // or a late poll: no second poll right after it; poll-schedule.ts `nextPollDueAt`). A daemon
    // that read the entry just before another moved it on may move it a little later (GT keeps
    // the later time): a gap longer than the interval by at most the time between the two reads.
    await ctx.schedule.rescheduleMany(
      slots.map(({ appId }) => ({ appId, dueAt: nextPollDueAt(appId, now, pollIntervalMs) })),
    );
    if (due.length < PAGE) break;
  }
  if (total) ctx.logger.info({ due: total }, 'scheduler:enqueued');
  return { due: total };
}
