// RequestReadTimeout, as mod_reqtimeout means it: a request's header must arrive within its
// time, stretched by a second for each MinRate bytes received up to the maximum, and so must its
// body. Against slowloris (headers a few bytes at a time) and slow POST (a body likewise).
//
// One timer per serving loop looks at every connection four times a second, instead of a timer
// per connection; the state of connection i lives in preallocated arrays at index i.
import type http from 'node:http';
import type net from 'node:net';
import type { ReadTimeoutStage } from '../config/types';

const enum Phase {
  None,
  /** From accept, or from the first byte after keep-alive, until the header is complete. */
  Header,
  /** Header read; the body is not read until the request gets its slot. */
  Waiting,
  Body,
  /** The request is whole; nothing is expected from the client until its next one. */
  Done,
  KeepAlive,
  /** No longer HTTP/1.1: an HTTP/2 session or a WebSocket, timed by their own rules. */
  Off,
}

export type ReadStage = 'header' | 'body';

export type OnReadTimeout = (
  stage: ReadStage,
  socket: net.Socket,
  res: http.ServerResponse | null,
  elapsedMs: number,
  bytes: number,
) => void;

const SWEEP_MS = 250;

/** How long a stage may take once `received` bytes have come in. */
export function stageLimit(stage: ReadTimeoutStage, received: number): number {
  const stretched = stage.minRate > 0 ? stage.timeout + Math.floor(received / stage.minRate) * 1000 : stage.timeout;
  return stage.max > 0 ? Math.min(stretched, stage.max) : stretched;
}

export class ReadTimeouts {
  private phase = new Uint8Array(64);
  private since = new Float64Array(64);
  private bytes = new Float64Array(64);
  private sockets: Array<net.Socket | null> = new Array<net.Socket | null>(64).fill(null);
  private requests: Array<http.IncomingMessage | null> = new Array<http.IncomingMessage | null>(64).fill(null);
  private responses: Array<http.ServerResponse | null> = new Array<http.ServerResponse | null>(64).fill(null);
  /** One past the highest index in use, so a sweep looks no further. */
  private high = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly header: ReadTimeoutStage | null,
    private readonly body: ReadTimeoutStage | null,
    private readonly onTimeout: OnReadTimeout,
  ) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Makes room for connection indexes below `capacity`. */
  grow(capacity: number): void {
    if (capacity <= this.phase.length) return;
    const grown = <T extends Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.phase = grown(this.phase, (n) => new Uint8Array(n));
    this.since = grown(this.since, (n) => new Float64Array(n));
    this.bytes = grown(this.bytes, (n) => new Float64Array(n));
    for (const list of [this.sockets, this.requests, this.responses] as Array<unknown[]>) {
      while (list.length < capacity) list.push(null);
    }
  }

  opened(i: number, socket: net.Socket): void {
    this.sockets[i] = socket;
    this.enter(i, Phase.Header);
    if (i >= this.high) this.high = i + 1;
  }

  headersRead(i: number, req: http.IncomingMessage): void {
    if (this.phase[i] === Phase.Off) return;
    this.requests[i] = req;
    this.phase[i] = Phase.Waiting;
  }

  /** The request's handler starts: from now on its body is expected. */
  bodyStarted(i: number, res: http.ServerResponse): void {
    if (this.phase[i] === Phase.Off) return;
    this.responses[i] = res;
    this.enter(i, Phase.Body);
  }

  /** The last response on the connection is done; it waits for another request. */
  idle(i: number): void {
    if (this.phase[i] === Phase.Off) return;
    const req = this.requests[i];
    // A body nobody read (the answer came first) is still on its way and still timed.
    if (this.phase[i] === Phase.Body && req !== null && !req.complete) return;
    this.requests[i] = null;
    this.responses[i] = null;
    this.enter(i, Phase.KeepAlive);
  }

  /** The connection leaves HTTP/1.1 (HTTP/2, a WebSocket): these timeouts no longer apply. */
  stop(i: number): void {
    this.phase[i] = Phase.Off;
    this.requests[i] = null;
    this.responses[i] = null;
  }

  closed(i: number): void {
    this.phase[i] = Phase.None;
    this.sockets[i] = null;
    this.requests[i] = null;
    this.responses[i] = null;
    while (this.high > 0 && this.phase[this.high - 1] === Phase.None) this.high--;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private enter(i: number, phase: Phase): void {
    this.phase[i] = phase;
    this.since[i] = Date.now();
    this.bytes[i] = this.sockets[i]?.bytesRead ?? 0;
  }

  private sweep(): void {
    const now = Date.now();
    for (let i = 0; i < this.high; i++) {
      const phase = this.phase[i];
      const socket = this.sockets[i];
      if (socket === null) continue;
      if (phase === Phase.KeepAlive) {
        if (socket.bytesRead > this.bytes[i]) {
          // The next request has begun: its header time starts now, counting what came already.
          this.phase[i] = Phase.Header;
          this.since[i] = now;
        }
      } else if (phase === Phase.Header) {
        if (this.header) this.check(i, 'header', this.header, socket, now);
      } else if (phase === Phase.Body) {
        const req = this.requests[i];
        if (req === null || req.complete) this.phase[i] = Phase.Done;
        else if (req.readableLength > 0) this.enter(i, Phase.Body); // we are the slow reader, not the client
        else if (this.body) this.check(i, 'body', this.body, socket, now);
      }
    }
  }

  private check(i: number, stage: ReadStage, limit: ReadTimeoutStage, socket: net.Socket, now: number): void {
    const received = socket.bytesRead - this.bytes[i];
    const elapsed = now - this.since[i];
    if (elapsed <= stageLimit(limit, received)) return;
    const res = this.responses[i];
    this.phase[i] = Phase.Done;
    this.onTimeout(stage, socket, stage === 'body' ? res : null, elapsed, received);
  }
}
