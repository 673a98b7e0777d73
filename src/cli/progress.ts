/**
 * A one-line progress bar on a terminal stream; silent when the stream is not a TTY (pipes, CI),
 * so scripted output stays clean.
 */
export interface Progress {
  update(done: number, total: number): void;
  done(): void;
}

/** Creates a progress bar labelled `label` for `total` steps on `stream` (usually stderr). */
export function createProgress(stream: NodeJS.WriteStream, label: string, total: number, minTotal = 20): Progress {
  if (!stream.isTTY || total < minTotal) return { update: () => {}, done: () => {} };
  let last = -1;
  return {
    update(done, t) {
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
