// A child's side of LimitMemory: what it drops when the master finds it past the redline, and
// how it dies when MemoryPolicy is abort. The master measures; the child only obeys.
import v8 from 'node:v8';
import vm from 'node:vm';
import type { ConnectionServer } from '../child/connection-server';
import type { Settings } from '../config/types';
import { flushLogs, log } from '../log/logger';
import { raiseCoreLimit } from '../native/rlimits';
import { megabytes } from './memory';

let fullGc: (() => void) | null = null;

/** A connection idle this long is not between two requests of a busy client, so closing it
 * rarely meets a request already on its way. */
const IDLE_BEFORE_PRUNED_MS = 1000;

/**
 * A full, compacting garbage collection now. Starting children with --expose-gc would put gc()
 * on the global object of every module a child runs, filters included, and any of them could
 * then stall the event loop with it; setting the flag at run time exposes it only inside a new
 * context, whose function is kept here and called only at the redline.
 */
function collectGarbage(): void {
  if (!fullGc) {
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as () => void;
  }
  fullGc();
}

/**
 * The redline: give back what a child can spare without failing a request, on one event loop
 * (the child's, or one worker-MPM thread's): keep-alive connections idle for a second or more
 * (their clients reconnect), then the garbage V8 has not collected yet.
 */
export function pruneEventLoop(server: ConnectionServer): void {
  const before = process.memoryUsage();
  const closing = server.closeIdle(IDLE_BEFORE_PRUNED_MS);
  collectGarbage();
  const after = process.memoryUsage();
  log('child').notice(
    { closingIdle: closing, heapBefore: before.heapUsed, heapAfter: after.heapUsed, rss: after.rss },
    `memory redline: closing ${closing} idle keep-alive connections, heap ${megabytes(before.heapUsed)} -> ${megabytes(after.heapUsed)}`,
  );
}

/**
 * MemoryPolicy abort dumps core, so the core size limit is raised to the most allowed and the
 * child works in CoreDumpDirectory, where a core_pattern without a path puts the file (as
 * httpd's children do). A directory the child may not enter leaves it where it was.
 */
export function prepareCoreDump(s: Settings): void {
  if (s.memoryPolicy !== 'abort' || (s.limitMemory === 0 && s.limitMemoryServer === 0)) return;
  raiseCoreLimit();
  try {
    process.chdir(s.coreDumpDirectory);
  } catch (err) {
    log('child').warn(
      { dir: s.coreDumpDirectory, err: (err as Error).message },
      `cannot enter CoreDumpDirectory ${s.coreDumpDirectory}: a core dump goes to ${process.cwd()}`,
    );
  }
}

export function abortForMemory(): never {
  log('child').crit({ rss: process.memoryUsage.rss() }, 'over the memory limit with MemoryPolicy abort: aborting, dumping core');
  flushLogs();
  process.abort();
}
