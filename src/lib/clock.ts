/**
 * Time source. Domain code never reads the wall clock: pure functions take `now` (epoch ms) and
 * services take a `Clock`, so 5 h, 24 h and 33 h windows are tested in milliseconds
 * (DESIGN.md, "The pipeline").
 */
export interface Clock {
  /** Current time, epoch milliseconds. */
  now(): number;
}

/** The real wall clock; only composition roots (src/main.ts, CLI entry points) use it. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests, replays and simulations. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.parse('2025-01-01T00:00:00Z')) {}
  now(): number {
    return this.t;
  }
  /** Moves the clock forward by `ms` milliseconds (negative values move it back). */
  advance(ms: number): void {
    this.t += ms;
  }
  /** Sets the clock to `t` (epoch ms). */
  set(t: number): void {
    this.t = t;
  }
}

/**
 * A clock that runs `speed` times faster than real time from `start` (epoch ms): for the demo,
 * where one simulated hour passes per real second (speed 3600).
 */
export class ScaledClock implements Clock {
  private readonly realStart: number;
  constructor(
    private readonly start: number,
    private readonly speed: number,
    private readonly real: Clock = systemClock,
  ) {
    this.realStart = real.now();
  }
  now(): number {
    return this.start + Math.floor((this.real.now() - this.realStart) * this.speed);
  }
}

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
