// H2MaxResets: the rapid-reset attack (CVE-2023-44487) opens streams and cancels them at once,
// over and over, so that each costs the server a request's work (here a backend request) while
// the client stays under SETTINGS_MAX_CONCURRENT_STREAMS. Counting the streams a client resets
// per connection over a window catches it; a browser that cancels a page's loads stays far below.

export class ResetGuard {
  private count = 0;
  private windowStart = 0;

  constructor(
    private readonly max: number,
    private readonly intervalMs: number,
  ) {}

  /** One stream reset by the client; true once the connection is over the limit. */
  reset(now: number): boolean {
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count > this.max;
  }
}
