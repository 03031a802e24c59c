// A backend connection that carries state (a state-aware session's private connection, where the
// backend bound a login or an NTLM handshake) must outlive a client that leaves early: closing
// it would end the session as surely as the backend closing it. When the client side gives up on
// a request that has gone to the backend whole, the rest of the answer is read and dropped
// instead, and the connection stays usable for the session's next request (which undici sends
// only after it). An answer that goes on longer than DRAIN_MS (a large download, an event
// stream) is cut as before: the connection closes and the session ends with it.
//
// The exchange sees the same as when its request is aborted: its onError comes at once, so its
// accounting (the member's in-flight count, the session's) does not wait for the drain.
import type { Dispatcher } from 'undici';

export const DRAIN_MS = 2000;
/** What the exchange is told when its answer is drained rather than its request aborted. */
export const answerDrained = new Error('the client left; the answer is read and dropped, the connection kept');

type Abort = (err?: Error) => void;

export class KeepOnAbandon implements Dispatcher.DispatchHandler {
  private abort: Abort | null = null;
  private resume: (() => void) | null = null;
  private sent = false;
  /** The client side gave up; what the backend still sends is dropped. */
  private draining = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly inner: Dispatcher.DispatchHandler) {}

  onConnect(abort: Abort): void {
    this.abort = abort;
    this.inner.onConnect?.((err) => this.abandoned(err));
  }

  onRequestSent(): void {
    this.sent = true;
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.resume = resume;
    if (this.draining) return true;
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    if (this.draining) return true;
    return this.inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    if (this.draining) return this.stopTimer();
    this.inner.onComplete?.(trailers);
  }

  onError(err: Error): void {
    if (this.draining) return this.stopTimer();
    this.inner.onError?.(err);
  }

  private abandoned(err?: Error): void {
    if (this.draining) return;
    const abort = this.abort as Abort;
    // Part of the request is still to go: the connection cannot carry another one.
    if (!this.sent) return abort(err);
    this.draining = true;
    this.timer = setTimeout(() => abort(err), DRAIN_MS);
    this.timer.unref();
    this.inner.onError?.(answerDrained);
    // The exchange may have paused the answer for a slow client: nothing holds it back now.
    this.resume?.();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
