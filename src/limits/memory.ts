// LimitMemory's measure and thresholds, and the V8 heap limit a child gets from it.
//
// The measure is a process's resident set (VmRSS of /proc/<pid>/status): every page it has in
// RAM, its threads' included (they share one address space), the node binary's pages and the
// shared-memory segments it touched included. It is what the kernel's OOM killer and top(1)
// look at, and reading it costs one read of a file the kernel generates.

const MiB = 2 ** 20;

/** Appweb's redline: past this share of the limit a warning is logged and the child prunes. */
export const REDLINE = 0.85;

/** What /proc/<pid>/status says about a process's memory, in bytes. */
export interface MemoryUse {
  /** VmRSS: the measure of LimitMemory. */
  rss: number;
  /** RssAnon: pages of this process alone (heaps, buffers, stacks). */
  anon: number;
  /** RssFile + RssShmem: pages that other processes of the server map too (the node binary,
   * the scoreboard). */
  shared: number;
}

const statusField = (text: string, name: string): number => {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
};

export function parseMemoryUse(status: string): MemoryUse {
  return {
    rss: statusField(status, 'VmRSS'),
    anon: statusField(status, 'RssAnon'),
    shared: statusField(status, 'RssFile') + statusField(status, 'RssShmem'),
  };
}

/**
 * What the master and its children use together, for LimitMemoryServer: each process's own
 * pages, plus the shared ones once. Summing RSS instead would count the node binary once per
 * child (about 45 MB each).
 */
export function serverMemory(uses: readonly MemoryUse[]): number {
  let own = 0;
  let shared = 0;
  for (const u of uses) {
    own += u.anon;
    shared = Math.max(shared, u.shared);
  }
  return own + shared;
}

export type MemoryLevel = 'under' | 'redline' | 'over';

export function memoryLevel(bytes: number, limit: number): MemoryLevel {
  if (bytes > limit) return 'over';
  return bytes >= limit * REDLINE ? 'redline' : 'under';
}

/**
 * Memory a child always has outside V8's old space: the node binary's pages alone are about
 * 45 MB, then the young generation, compiled code and thread stacks. Kept below the least a
 * child was measured to have, so the formula below holds.
 */
const OUTSIDE_OLD_SPACE = 32 * MiB;

/**
 * `--max-old-space-size` (MB) for a child under LimitMemory `limit`: the limit less the memory a
 * child always has outside the old space, never under half the limit. Below the limit, so V8
 * collects garbage harder as the child nears it; yet a full old space plus that outside memory
 * is more than the limit, so the child's RSS crosses LimitMemory, and the master applies
 * MemoryPolicy, before V8 could die of heap exhaustion.
 */
export function heapLimitMb(limit: number): number {
  return Math.floor(Math.max(limit / 2, limit - OUTSIDE_OLD_SPACE) / MiB);
}

/** Node flags for a child process. */
export function childExecArgv(limit: number): string[] {
  return limit > 0 ? [`--max-old-space-size=${heapLimitMb(limit)}`] : [];
}

export function megabytes(bytes: number): string {
  return `${Math.round(bytes / MiB)} MB`;
}
