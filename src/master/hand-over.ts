// Replacing a serving child without a gap (MemoryPolicy restart): its replacement starts first,
// and only once that one is ready does the old child stop accepting and finish its requests,
// within ExitTimeout. When no replacement may start (LimitProcesses, ServerLimit), the old child
// drains at once and its replacement starts as soon as it has gone.
import { log } from '../log/logger';
import type { Child } from './children';

/** How long the old child waits for a replacement that does not become ready; it is over its
 * memory limit, so it drains anyway after that. */
const READY_WAIT_MS = 10_000;

export interface HandOverHooks {
  /** Starts a child of the current generation, or null when none may start now. */
  spawn(): Child | null;
  /** Takes the old child out of the maintenance pass's count while both run. */
  setAside(old: Child): void;
  drain(old: Child): void;
}

export class HandOver {
  /** Replacement → the child it replaces. */
  private readonly waiting = new Map<Child, Child>();
  /** Old children that drained before their replacement could start. */
  private readonly owed = new Set<Child>();

  constructor(private readonly hooks: HandOverHooks) {}

  begin(old: Child): void {
    this.hooks.setAside(old);
    const next = this.hooks.spawn();
    if (!next) {
      log('master').warn({ child: old.pid }, `no room for a replacement of child pid ${old.pid}: it drains first`);
      this.owed.add(old);
      this.hooks.drain(old);
      return;
    }
    log('master').notice({ child: old.pid, replacement: next.pid }, `child pid ${next.pid} starts to replace child pid ${old.pid}`);
    this.waiting.set(next, old);
    next.timers.push(setTimeout(() => this.ready(next), READY_WAIT_MS));
  }

  /** A child became ready (or its wait ran out): the child it replaces may drain now. */
  ready(child: Child): void {
    const old = this.waiting.get(child);
    if (!old) return;
    this.waiting.delete(child);
    log('master').notice({ child: old.pid, replacement: child.pid }, `child pid ${child.pid} ${child.ready ? 'is ready' : 'did not become ready'}; child pid ${old.pid} drains`);
    this.hooks.drain(old);
  }

  /** A child left; true when a replacement is owed for it. A replacement that died before it
   * was ready lets its old child drain now (the crash path replaces the replacement). */
  exited(child: Child): boolean {
    this.ready(child);
    return this.owed.delete(child);
  }
}
