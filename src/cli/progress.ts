/**
 * A one-line progress bar on a terminal stream; silent when the stream is not a TTY (pipes, CI),
 * so scripted output stays clean.
 */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

/**
 * Creates a progress bar labelled `label` on `stream` (usually stderr), shown only on a terminal
 * and only for work of at least `minTotal` steps (the total each `update` reports).
 */
export function createProgress(stream: NodeJS.WriteStream, label: string, minTotal = 20): Progress {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  let last = -1;
  return {
    update(done, t) {
      if (t < minTotal) return;
      const pct = Math.floor((done / t) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${t} ${pct}%`);
    },
    done() {
      if (last >= 0) stream.write('\r\x1b[K');
    },
  };
}
