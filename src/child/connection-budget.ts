// MaxConnectionsPerChild: the number of connections one child serves before it is replaced.
// A worker-MPM child's threads share one budget through a SharedArrayBuffer.

export interface ConnectionBudget {
  /** Takes one connection from the budget; false once it is spent. */
  take(): boolean;
}

/** `limit` 0 means unlimited, as in Apache. */
export function sharedBudget(limit: number, counter: Int32Array): ConnectionBudget {
  if (limit === 0) return { take: () => true };
  return {
    take(): boolean {
      if (Atomics.add(counter, 0, 1) < limit) return true;
      Atomics.sub(counter, 0, 1);
      return false;
    },
  };
}

export function localBudget(limit: number): ConnectionBudget {
  return sharedBudget(limit, new Int32Array(1));
}
