// Log lines for limits a flood can trip thousands of times a second: the first event of a limit
// is logged as it happens, the next ones only counted, and a summary of them written at most
// once a second. Each serving loop has its own, so a line never waits on another process.
import type { LimitName } from './limit-names';
import { log } from '../log/logger';

type Level = 'warn' | 'info';

interface Burst {
  limit: LimitName;
  level: Level;
  message: string;
  /** Events since the last line. */
  since: number;
  last: number;
  timer: NodeJS.Timeout | null;
}

const SUMMARY_MS = 1000;

export class FloodLog {
  private readonly bursts = new Map<string, Burst>();

  /** Logs (or counts, under a flood) one event of `limit`; `fields` go on its line. Events of one
   * `kind` (by default the limit) are counted together. */
  event(limit: LimitName, level: Level, message: string, fields: Record<string, unknown>, kind: string = limit): void {
    let b = this.bursts.get(kind);
    if (!b) {
      b = { limit, level, message, since: 0, last: 0, timer: null };
      this.bursts.set(kind, b);
    }
    const now = Date.now();
    if (now - b.last >= SUMMARY_MS && b.since === 0) {
      b.last = now;
      log('core')[level]({ limit, ...fields }, message);
      return;
    }
    b.since++;
    b.level = level;
    b.message = message;
    if (!b.timer) {
      const burst = b;
      b.timer = setTimeout(() => this.summarize(burst), Math.max(0, b.last + SUMMARY_MS - now));
      b.timer.unref();
    }
  }

  private summarize(b: Burst): void {
    b.timer = null;
    b.last = Date.now();
    log('core')[b.level]({ limit: b.limit, events: b.since, summary: true }, `${b.message} (${b.since} more in the last second)`);
    b.since = 0;
  }

  /** Writes the pending summaries now (the loop is ending). */
  flush(): void {
    for (const b of this.bursts.values()) {
      if (!b.timer) continue;
      clearTimeout(b.timer);
      this.summarize(b);
    }
  }
}
