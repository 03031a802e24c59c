// Resolves Appweb's sandbox limits on the processes (src/config/directives/process-limits.ts)
// into their Settings fields, with the adjustments each reports as a warning.

import { directives, type DirectiveSpec } from './directives';
import type { Settings } from './types';

export type SandboxSettings = Pick<
  Settings,
  | 'exitTimeout' | 'limitMemory' | 'limitMemoryServer' | 'memoryPolicy' | 'crashRecoveryStrategy'
  | 'coreDumpDirectory' | 'limitProcesses' | 'limitFiles' | 'minWorkers' | 'limitWorkers' | 'threadStack'
>;

export interface SandboxContext {
  value: <V>(spec: DirectiveSpec<V>) => V | undefined;
  /** GracefulShutdownTimeout in force (Apache's 0 already replaced). */
  gracefulShutdownTimeout: number;
  startServers: number;
  cpus: number;
  fromRoot: (p: string) => string;
  warn: (directive: string, message: string) => void;
}

/** Below this a child is over LimitMemory before it serves anything: an idle Node child's RSS is
 * about 60 MB, most of it the node binary's pages. */
const idleChildBytes = 64 * 2 ** 20;

const mb = (bytes: number): string => `${Math.round(bytes / 2 ** 20)}M`;

export function resolveSandbox(c: SandboxContext): SandboxSettings {
  const { value, warn } = c;
  const limitMemory = value(directives.LimitMemory) ?? 0;
  if (limitMemory > 0 && limitMemory < idleChildBytes) {
    warn('LimitMemory', `${mb(limitMemory)} is below what an idle child uses (about 60M): every child will be over it`);
  }
  const limitProcesses = value(directives.LimitProcesses) ?? 0;
  if (limitProcesses > 0 && c.startServers > limitProcesses) {
    warn('LimitProcesses', `${limitProcesses} is less than StartServers ${c.startServers}: only ${limitProcesses} children start`);
  }
  return {
    exitTimeout: exitTimeout(value(directives.ExitTimeout), value(directives.GracefulShutdownTimeout), c.gracefulShutdownTimeout),
    limitMemory,
    limitMemoryServer: value(directives.LimitMemoryServer) ?? 0,
    memoryPolicy: value(directives.MemoryPolicy) ?? 'restart',
    crashRecoveryStrategy: value(directives.CrashRecoveryStrategy) ?? 'recover',
    coreDumpDirectory: c.fromRoot(value(directives.CoreDumpDirectory) ?? '.'),
    limitProcesses,
    limitFiles: value(directives.LimitFiles) ?? 0,
    ...workerPool(value(directives.MinWorkers), value(directives.LimitWorkers), c.cpus, warn),
    threadStack: value(directives.ThreadStack) ?? 0,
  };
}

/** Each directive bounds every drain when written alone; written together, the smaller wins. */
function exitTimeout(written: number | undefined, gracefulWritten: number | undefined, graceful: number): number {
  if (written === undefined) return graceful;
  return gracefulWritten === undefined ? written : Math.min(written, graceful);
}

/** Only values written are adjusted; the default LimitWorkers makes room for MinWorkers. */
function workerPool(
  min: number | undefined,
  limit: number | undefined,
  cpus: number,
  warn: SandboxContext['warn'],
): Pick<Settings, 'minWorkers' | 'limitWorkers'> {
  const minWorkers = min ?? 0;
  if (limit === undefined) return { minWorkers, limitWorkers: Math.max(cpus, minWorkers) };
  if (minWorkers <= limit) return { minWorkers, limitWorkers: limit };
  warn('MinWorkers', `${minWorkers} exceeds LimitWorkers ${limit}; lowered to ${limit}`);
  return { minWorkers: limit, limitWorkers: limit };
}
