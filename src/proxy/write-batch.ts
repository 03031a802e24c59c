// Proxied responses leave for their clients in one burst per event-loop iteration. A response
// is written from its backend's read callback; written at once, each one wakes its client's
// reader by itself, and over loopback or a fast network that wake-up is the most expensive part
// of the write. Held (corked) until every backend read of the iteration is handled, the writes
// go out back to back in the check phase, as undici sends its requests to backends, and a
// reader of many connections (a load balancer, a browser, a load generator) is woken once for
// several. A response waits at most for the rest of the iteration it arrived in.
import type net from 'node:net';

export interface HeldWriter {
  readonly socket: net.Socket;
  /** Whether its socket is corked in the current batch (set here only). */
  held: boolean;
  /** Called once the batch goes out: uncork the socket, or end the response. */
  release(): void;
}

let batch: HeldWriter[] = [];

function releaseBatch(): void {
  // A release may hold again (a write from a 'finish' listener): that one joins the next batch.
  const writers = batch;
  batch = [];
  let i = 0;
  try {
    for (; i < writers.length; i++) {
      writers[i].held = false;
      writers[i].release();
    }
  } finally {
    // One that threw does not leave the rest corked for good: they go with the next batch.
    if (i + 1 < writers.length) {
      if (batch.length === 0) setImmediate(releaseBatch);
      batch.push(...writers.slice(i + 1));
    }
  }
}

/** Corks the writer's socket until the end of this iteration, once per batch. */
export function holdWrites(w: HeldWriter): void {
  if (w.held) return;
  w.held = true;
  w.socket.cork();
  if (batch.push(w) === 1) setImmediate(releaseBatch);
}
