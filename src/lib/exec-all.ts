/**
 * Running an ioredis pipeline as one step that either succeeds or throws: `pipeline.exec()`
 * reports each command's error beside its result instead of throwing.
 */
import type { ChainableCommander } from 'ioredis';

/**
 * Runs `pipe` and returns its results in command order.
 * @throws the first command's error, if any command failed (the others ran: a pipeline is not
 *   a transaction); the connection's error when the pipeline could not be sent.
 */
export async function execAll<T>(pipe: ChainableCommander): Promise<T[]> {
  const res = (await pipe.exec()) ?? [];
  for (const [err] of res) if (err) throw err;
  return res.map(([, v]) => v as T);
}
