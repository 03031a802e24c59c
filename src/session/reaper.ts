// The reaper: one per server, in the master, so that expired sessions are removed once and
// not by every child. Each pass logs the store's statistics at info (seed 001's NPReaperOp
// line): sessions in use, removed as expired, and for the shm store the memory used.
import { log } from '../log/logger';
import { ShmSessionStore } from './shm-store';
import type { SessionStore } from './store';

/** Often enough that an idle timeout is kept to within half of itself, at most once a second
 * and at least once a minute. */
export function reapInterval(maxIdle: number): number {
  return Math.max(1000, Math.min(60_000, Math.floor(maxIdle / 2)));
}

export class SessionReaper {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly store: SessionStore,
    private readonly memorySize: number,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.pass(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async pass(now = Date.now()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const r = await this.store.reap(now);
      const fields: Record<string, unknown> = { store: this.store.name, sessions: r.remaining, expired: r.removed };
      let memory = '';
      if (this.store instanceof ShmSessionStore) {
        const u = this.store.usage();
        Object.assign(fields, { used: u.bytes, percent: Math.round(u.share * 100), available: Math.max(0, this.memorySize - u.bytes) });
        memory = `, used memory: ${u.bytes} (${fields.percent}%), available memory: ${fields.available}`;
      }
      log('session').info(fields, `session store statistics for ${this.store.name}: used sessions: ${r.remaining}, timed out sessions: ${r.removed}${memory}`);
    } catch (err) {
      log('session').warn({ store: this.store.name, err: (err as Error).message }, `session reaper could not reach the ${this.store.name} store; trying again next pass`);
    } finally {
      this.running = false;
    }
  }
}
