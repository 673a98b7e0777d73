/** A started part of a process (workers, scheduler, HTTP server); `close()` finishes or hands back in-flight work. */
export interface Closable {
  close(): Promise<void>;
}
