// LimitProcesses: the master never runs more children than this, old generations still
// draining included. ServerLimit bounds them too (it sizes the scoreboard) but cannot change on
// a restart; LimitProcesses can. A refused start is logged, at most once a second with a count.
import { log } from '../log/logger';

const LOG_EVERY_MS = 1000;

export class ProcessLimit {
  private refused = 0;
  private loggedAt = -Infinity;

  constructor(private limit: number) {}

  update(limit: number): void {
    this.limit = limit;
  }

  /** Whether one more child may start while `running` children live. */
  allows(running: number, now: number): boolean {
    if (this.limit === 0 || running < this.limit) return true;
    this.refused++;
    if (now - this.loggedAt >= LOG_EVERY_MS) {
      log('master').warn(
        { limitProcesses: this.limit, running, refused: this.refused },
        `LimitProcesses ${this.limit} reached (${running} children, old generations included): not starting a child (${this.refused} refused)`,
      );
      this.loggedAt = now;
      this.refused = 0;
    }
    return false;
  }
}
