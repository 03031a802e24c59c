// The event MPM's request slots: `ThreadsPerChild` of them per child. A request holds one from
// the moment its headers are read until its response ends; an idle keep-alive connection holds
// none. When every slot is busy a request waits in FIFO order; one that waits longer than
// `Timeout` is answered 503 by the caller.

export type SlotGrant = (slot: number) => void;

interface Waiter {
  grant: SlotGrant;
  timer: NodeJS.Timeout;
}

export class RequestSlots {
  private readonly free: number[];
  private readonly waiters: Waiter[] = [];

  constructor(count: number) {
    // Lowest index first, so the scoreboard fills from its start like Apache's.
    this.free = Array.from({ length: count }, (_, i) => count - 1 - i);
  }

  get idle(): number {
    return this.free.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** A free slot, or undefined when every slot is busy (then wait for one). */
  take(): number | undefined {
    return this.free.pop();
  }

  /** Grants a slot once one frees; `onTimeout` runs instead if none does within `timeoutMs`. */
  wait(grant: SlotGrant, timeoutMs: number, onTimeout: () => void): void {
    const waiter: Waiter = {
      grant,
      timer: setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        onTimeout();
      }, timeoutMs),
    };
    this.waiters.push(waiter);
  }

  release(slot: number): void {
    const next = this.waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.grant(slot);
      return;
    }
    this.free.push(slot);
  }

  /** Drops a waiter whose client went away before it got a slot. */
  cancel(grant: SlotGrant): void {
    const i = this.waiters.findIndex((w) => w.grant === grant);
    if (i < 0) return;
    clearTimeout(this.waiters[i].timer);
    this.waiters.splice(i, 1);
  }
}
