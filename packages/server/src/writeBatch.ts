/**
 * Most bytes a batch holds back: past this, what the turn has written so far goes out at once,
 * so a long synchronous loop of sends neither waits for its end nor piles up in memory first.
 */
export const maxBatchBytes = 64 * 1024

/** What a batch needs of the socket: a `net.Socket` or `tls.TLSSocket` (any Writable). */
export interface Corkable {
  cork(): void
  uncork(): void
}

/**
 * Frames written to one connection in one event-loop turn leave in one system call. `ws` writes
 * every frame with its own `writev` (a header and a payload), which costs more than everything
 * else a server does with a small message; a turn that answers many frames (a client's slice of
 * messages arrives in one TCP read) now pays for one. The socket under `ws` is corked at the
 * turn's first frame and uncorked in `process.nextTick`, before any I/O or timer can run: nothing
 * waits longer than the synchronous work that produced it, and the bytes and their order are the
 * same as without batching.
 */
export class WriteBatch {
  private corked = false
  private bytes = 0

  constructor(private readonly transport: Corkable) {}

  /** Call before writing a frame of about `size` bytes to the socket. */
  add(size: number): void {
    if (!this.corked) {
      this.corked = true
      this.bytes = size
      this.transport.cork()
      process.nextTick(flushBatch, this)
      return
    }
    this.bytes += size
    if (this.bytes > maxBatchBytes) {
      // Write out what is held; this frame starts the next batch of the same turn.
      this.transport.uncork()
      this.transport.cork()
      this.bytes = size
    }
  }

  /** Writes out what the turn has held back (also safe when nothing is, or the socket is gone). */
  flush(): void {
    if (!this.corked) return
    this.corked = false
    this.bytes = 0
    this.transport.uncork()
  }
}

/** `process.nextTick` passes the batch as an argument: no closure per turn. */
function flushBatch(batch: WriteBatch): void {
  batch.flush()
}
