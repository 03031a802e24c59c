// The master's memory observer: LimitMemory per child, LimitMemoryServer for the whole server,
// MemoryPolicy past them.
//
// Every SAMPLE_MS the master reads each child's /proc/<pid>/status through a descriptor it
// keeps open (one pread, about 3 µs a child), so a child growing 50 MB/s moves 5 MB between two
// looks: it is caught long before it doubles its limit, where pm2 looks every 30 s. Nothing is
// sampled when neither limit is set.
//
// Past the redline (85%) a warning is logged and the child is asked to prune (again every
// PRUNE_EVERY_MS while it stays there). Over the limit, MemoryPolicy: continue logs (at most
// every OVER_LOG_EVERY_MS) and lets the child run; restart replaces it gracefully (HandOver);
// abort makes it dump core, and then the crash strategy applies. Only ready, serving children
// are acted on: the others are already leaving.
import fs from 'node:fs';
import type { Settings } from '../config/types';
import { megabytes, memoryLevel, parseMemoryUse, serverMemory } from '../limits/memory';
import type { MemoryLevel, MemoryUse } from '../limits/memory';
import { log } from '../log/logger';
import type { Child } from './children';

const SAMPLE_MS = 100;
const PRUNE_EVERY_MS = 5000;
const OVER_LOG_EVERY_MS = 10_000;
/** Back under this share of the limit, a later crossing of the redline warns again. */
const REDLINE_CLEARED = 0.8;
/** A child told to abort that has not died by then (a blocked event loop) gets SIGABRT. */
const ABORT_GRACE_MS = 1000;

export interface MemoryWatchHooks {
  children(): Child[];
  prune(child: Child): void;
  abort(child: Child): void;
  replace(child: Child): void;
}

/** Where one subject (a child, or the server) stands against its limit. */
interface Gauge {
  level: MemoryLevel;
  prunedAt: number;
  overLoggedAt: number;
}

interface Probe extends Gauge {
  fd: number;
  use: MemoryUse | null;
  /** MemoryPolicy restart or abort was applied to it. */
  acted: boolean;
}

const newGauge = (): Gauge => ({ level: 'under', prunedAt: -Infinity, overLoggedAt: -Infinity });

export class MemoryWatch {
  private timer: NodeJS.Timeout | null = null;
  private readonly probes = new Map<Child, Probe>();
  private readonly self: number;
  private readonly server = newGauge();
  private readonly buffer = Buffer.alloc(4096);

  constructor(
    private settings: Settings,
    private readonly hooks: MemoryWatchHooks,
  ) {
    this.self = fs.openSync('/proc/self/status', 'r');
    this.update(settings);
  }

  update(settings: Settings): void {
    this.settings = settings;
    const wanted = settings.limitMemory > 0 || settings.limitMemoryServer > 0;
    if (wanted && !this.timer) this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    if (!wanted && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  forget(child: Child): void {
    const p = this.probes.get(child);
    if (p) fs.closeSync(p.fd);
    this.probes.delete(child);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const child of [...this.probes.keys()]) this.forget(child);
    fs.closeSync(this.self);
  }

  private read(fd: number): MemoryUse | null {
    try {
      const n = fs.readSync(fd, this.buffer, 0, this.buffer.length, 0);
      return parseMemoryUse(this.buffer.toString('latin1', 0, n));
    } catch {
      return null; // the child has just died; its exit removes the probe
    }
  }

  private probe(child: Child): Probe | null {
    let p = this.probes.get(child);
    if (!p) {
      try {
        p = { ...newGauge(), fd: fs.openSync(`/proc/${child.pid}/status`, 'r'), use: null, acted: false };
      } catch {
        return null;
      }
      this.probes.set(child, p);
    }
    p.use = this.read(p.fd);
    return p;
  }

  private sample(): void {
    const now = Date.now();
    const s = this.settings;
    const uses: MemoryUse[] = [];
    const own = this.read(this.self);
    if (own) uses.push(own);
    for (const child of this.hooks.children()) {
      const p = this.probe(child);
      if (!p?.use) continue;
      uses.push(p.use);
      if (s.limitMemory > 0 && this.acts(child)) this.judgeChild(child, p, now);
    }
    if (s.limitMemoryServer > 0) this.judgeServer(serverMemory(uses), now);
  }

  private acts(child: Child): boolean {
    return child.ready && child.state === 'serving';
  }

  private judgeChild(child: Child, p: Probe, now: number): void {
    const s = this.settings;
    const rss = (p.use as MemoryUse).rss;
    const crossed = this.crossed(p, rss, s.limitMemory);
    const fields = { child: child.pid, rss, limitMemory: s.limitMemory, policy: s.memoryPolicy };
    const subject = `child pid ${child.pid} uses ${megabytes(rss)}`;
    if (crossed) {
      log('master').warn(fields, `${subject}, past the redline (85% of LimitMemory ${megabytes(s.limitMemory)}): it prunes`);
    }
    if (p.level !== 'under' && now - p.prunedAt >= PRUNE_EVERY_MS) {
      p.prunedAt = now;
      this.hooks.prune(child);
    }
    if (p.level !== 'over') return;
    const over = `${subject}, over LimitMemory ${megabytes(s.limitMemory)}`;
    if (s.memoryPolicy === 'continue') {
      this.logContinue(p, now, fields, over);
    } else if (!p.acted) {
      p.acted = true;
      this.apply(child, fields, over);
    }
  }

  private judgeServer(total: number, now: number): void {
    const s = this.settings;
    const crossed = this.crossed(this.server, total, s.limitMemoryServer);
    const fields = { total, limitMemoryServer: s.limitMemoryServer, policy: s.memoryPolicy };
    const subject = `the server uses ${megabytes(total)}`;
    if (crossed) {
      log('master').warn(fields, `${subject}, past the redline (85% of LimitMemoryServer ${megabytes(s.limitMemoryServer)}): every child prunes`);
    }
    const serving = this.hooks.children().filter((c) => this.acts(c));
    if (this.server.level !== 'under' && now - this.server.prunedAt >= PRUNE_EVERY_MS) {
      this.server.prunedAt = now;
      for (const c of serving) this.hooks.prune(c);
    }
    if (this.server.level !== 'over') return;
    const over = `${subject}, over LimitMemoryServer ${megabytes(s.limitMemoryServer)}`;
    if (s.memoryPolicy === 'continue') {
      this.logContinue(this.server, now, fields, over);
      return;
    }
    // One child at a time, whichever limit it went over: until a child acted on has exited, its
    // replacement starting beside it adds to the total, and counting that would pick a second
    // child for nothing, or the same one again (it serves until its replacement is ready). Once
    // it has left, the total is judged again without it, and may still be over (the others grew
    // too).
    if (this.leaving()) return;
    const largest = this.largest(serving);
    if (!largest) return;
    (this.probes.get(largest) as Probe).acted = true;
    this.apply(largest, { ...fields, child: largest.pid }, `${over}; its largest child is pid ${largest.pid}`);
  }

  /** True while a child MemoryPolicy restart or abort acted on, for either limit, has not exited
   * (its probe goes when it does). */
  private leaving(): boolean {
    for (const p of this.probes.values()) if (p.acted) return true;
    return false;
  }

  /** Moves a gauge to its level for `bytes`; true when that just crossed the redline. */
  private crossed(g: Gauge, bytes: number, limit: number): boolean {
    const level = memoryLevel(bytes, limit);
    const before = g.level;
    // Just under the redline, one that was above stays there: hovering at it warns once.
    g.level = level === 'under' && before !== 'under' && bytes >= limit * REDLINE_CLEARED ? 'redline' : level;
    if (g.level === 'over' && before !== 'over') g.overLoggedAt = -Infinity;
    return before === 'under' && g.level !== 'under';
  }

  private logContinue(g: Gauge, now: number, fields: object, over: string): void {
    if (now - g.overLoggedAt < OVER_LOG_EVERY_MS) return;
    g.overLoggedAt = now;
    log('master').error(fields, `${over}; MemoryPolicy continue: the limit is soft, it keeps serving`);
  }

  private apply(child: Child, fields: object, over: string): void {
    if (this.settings.memoryPolicy === 'restart') {
      log('master').error(fields, `${over}; MemoryPolicy restart: replacing it gracefully`);
      this.hooks.replace(child);
      return;
    }
    log('master').error(fields, `${over}; MemoryPolicy abort: it dumps core`);
    this.hooks.abort(child);
    child.timers.push(setTimeout(() => child.proc.kill('SIGABRT'), ABORT_GRACE_MS));
  }

  private largest(children: Child[]): Child | null {
    let best: Child | null = null;
    let most = -1;
    for (const c of children) {
      const own = this.probes.get(c)?.use?.anon ?? -1;
      if (own > most) {
        most = own;
        best = c;
      }
    }
    return best;
  }
}
