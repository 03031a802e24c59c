// CrashRecoveryStrategy, and what keeps `recover` from becoming a fork storm.
//
// recover: a crashed child is replaced at once; the other children never stop accepting, so
// the server keeps serving (nevisProxy instead answers 503 for two minutes). kill: the master
// exits non-zero at once and systemd or Kubernetes starts a clean one.
//
// A crash loop is CRASH_LOOP_CRASHES crashes within CRASH_LOOP_WINDOW_MS (systemd's default
// start limit, 5 in 10 s). From then on each replacement waits, 0.5 s after the crash that
// started the loop, then twice as long after each further crash, up to 30 s; while one waits
// the maintenance pass starts no child either. A minute without a crash ends the back-off.
import type { CrashRecoveryStrategy } from '../config/directives/process-limits';
import { log } from '../log/logger';

export const CRASH_LOOP_CRASHES = 5;
export const CRASH_LOOP_WINDOW_MS = 10_000;
const FIRST_DELAY_MS = 500;
const LONGEST_DELAY_MS = 30_000;
const CALM_MS = 60_000;

/** Under `kill`, how long the other children get between SIGTERM and SIGKILL: the master is
 * gone within a second of the crash. */
export const KILL_EXIT_GRACE_MS = 500;

export type CrashDecision =
  | { action: 'exit' }
  /** delayMs 0: at once. */
  | { action: 'replace'; delayMs: number };

export class CrashPolicy {
  private recent: number[] = [];
  private lastCrash = -Infinity;
  private delayMs = 0;
  private holdUntil = 0;
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(private strategy: CrashRecoveryStrategy) {}

  /** Child `pid` crashed at `now`: what to do about it (logged here). */
  crashed(pid: number, now: number): CrashDecision {
    if (this.strategy === 'kill') {
      log('master').emerg({ child: pid }, `child pid ${pid} crashed; CrashRecoveryStrategy kill: mpmproxy exits`);
      return { action: 'exit' };
    }
    if (now - this.lastCrash >= CALM_MS) this.delayMs = 0;
    this.lastCrash = now;
    this.recent = this.recent.filter((t) => now - t < CRASH_LOOP_WINDOW_MS);
    this.recent.push(now);
    const recent = this.recent.length;
    if (this.delayMs === 0 && recent < CRASH_LOOP_CRASHES) return { action: 'replace', delayMs: 0 };
    this.delayMs = this.delayMs === 0 ? FIRST_DELAY_MS : Math.min(this.delayMs * 2, LONGEST_DELAY_MS);
    this.holdUntil = Math.max(this.holdUntil, now + this.delayMs);
    log('master').error(
      { child: pid, crashes: recent, delayMs: this.delayMs },
      `children keep crashing (${recent} in the last ${CRASH_LOOP_WINDOW_MS / 1000} s): child pid ${pid} is replaced in ${this.delayMs} ms; ` +
        `no child starts before then (the wait doubles with each crash, up to ${LONGEST_DELAY_MS / 1000} s, and ends after a minute without one)`,
    );
    return { action: 'replace', delayMs: this.delayMs };
  }

  /** Whether a crash loop's back-off keeps every child from starting now. */
  holding(now: number): boolean {
    return now < this.holdUntil;
  }

  /** Runs a delayed replacement; reset() and the master's stop cancel it. */
  later(delayMs: number, replace: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      replace();
    }, delayMs);
    this.pending.add(timer);
  }

  /** A restart (the operator may have fixed the cause) or a stop: forget the crashes. */
  reset(strategy: CrashRecoveryStrategy): void {
    this.strategy = strategy;
    this.recent = [];
    this.lastCrash = -Infinity;
    this.delayMs = 0;
    this.holdUntil = 0;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
