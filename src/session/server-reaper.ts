// The master's side of sessions: it opens the store for the reaper when some path has
// sessions, and swaps it when a restart changes the store.
import type { Settings } from '../config/types';
import { log } from '../log/logger';
import { openSessionStore } from './open-store';
import { reapInterval, SessionReaper } from './reaper';
import type { SessionStore } from './store';

export class ServerReaper {
  private store: SessionStore | null = null;
  private reaper: SessionReaper | null = null;

  constructor(private readonly masterPid: number) {}

  /** Starts (or restarts, after a reload) the reaper for the settings in force. */
  update(s: Settings): void {
    this.stop();
    if (!s.session.used) return;
    try {
      this.store = openSessionStore(s, this.masterPid);
    } catch (err) {
      log('session').error({ store: s.session.store, err: (err as Error).message }, `session reaper cannot open the ${s.session.store} store`);
      return;
    }
    this.reaper = new SessionReaper(this.store, s.session.memorySize);
    this.reaper.start(reapInterval(s.session.maxIdle));
  }

  stop(): void {
    this.reaper?.stop();
    this.reaper = null;
    const store = this.store;
    this.store = null;
    if (store !== null) void Promise.resolve(store.close()).catch(() => undefined);
  }
}
