// The master's side of the session ticket keys: a fresh random key at start-up and every
// SSLSessionTicketKeyRotation after, written into the TLS cache segment (never to disk). The
// children read the current and the previous key from there, so a ticket sealed under the
// key before still resumes, and one two keys old does not.
import crypto from 'node:crypto';
import { log } from '../log/logger';
import { TICKET_KEY_BYTES, type TlsCache } from '../shm/tls-cache';

export class TicketKeyRotation {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cache: TlsCache,
    private intervalMs: number,
  ) {
    // A graceful restart keeps the keys: only a new segment gets its first one.
    if (cache.keyGeneration === 0) this.rotate();
    this.schedule();
  }

  /** A reload that changes the interval starts counting it from the reload. */
  update(intervalMs: number): void {
    if (intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.stop();
    this.timer = setInterval(() => this.rotate(), this.intervalMs);
    this.timer.unref();
  }

  private rotate(): void {
    const generation = this.cache.rotateKey(crypto.randomBytes(TICKET_KEY_BYTES), Math.floor(Date.now() / 1000));
    log('ssl').info({ generation }, 'session ticket key rotated');
  }
}
