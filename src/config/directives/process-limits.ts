// Appweb's sandbox limits on the processes themselves: memory and what happens past it, crash
// recovery, how long a drain may last, how many processes and files, and the worker thread
// pool of each child.
import { integer, nonEmpty, one, seconds, serverOnly, table } from '../directive-spec';
import { parseEnum, parseSize, ValueError } from '../values';

export const memoryPolicies = ['continue', 'restart', 'abort'] as const;
export type MemoryPolicy = (typeof memoryPolicies)[number];

export const crashRecoveryStrategies = ['recover', 'kill'] as const;
export type CrashRecoveryStrategy = (typeof crashRecoveryStrategies)[number];

/** Far above any stack a thread needs; more would only make thread creation fail later. */
const largestThreadStack = 2 ** 30;

function threadStack(args: readonly string[]): number {
  const bytes = parseSize(args[0]);
  if (bytes <= largestThreadStack) return bytes;
  throw new ValueError(`must be at most 1G (got ${JSON.stringify(args[0])})`);
}
const sizeOrUnlimited = (args: readonly string[]) => parseSize(args[0], 0);

export const processLimitDirectives = table({
  LimitMemory: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'LimitMemory size|unlimited', default: 'unlimited',
    summary: 'Most memory (RSS, threads included) one child process may use; MemoryPolicy applies past it, pruning starts at 85%',
    parse: sizeOrUnlimited,
  },
  LimitMemoryServer: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'LimitMemoryServer size|unlimited', default: 'unlimited',
    summary: 'Most memory the master and its children may use together (shared pages counted once); MemoryPolicy applies to the child with the most memory of its own, one child at a time',
    parse: sizeOrUnlimited,
  },
  MemoryPolicy: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'MemoryPolicy continue|restart|abort', default: 'restart',
    summary: 'What happens to a child over LimitMemory, or picked under LimitMemoryServer: keep serving (soft limit), replace it gracefully, or abort it with a core dump',
    parse: (args) => parseEnum(args[0], memoryPolicies),
  },
  ExitTimeout: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ExitTimeout duration', default: 'GracefulShutdownTimeout (30s)',
    summary: 'Longest a child may take to finish its requests when it leaves gracefully (restart, memory restart, graceful stop); with GracefulShutdownTimeout the smaller wins',
    parse: seconds({ positive: true }),
  },
  CrashRecoveryStrategy: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'CrashRecoveryStrategy recover|kill', default: 'recover',
    summary: 'After a child crash: replace it at once and keep serving, or stop the whole server with a non-zero exit status',
    parse: (args) => parseEnum(args[0], crashRecoveryStrategies),
  },
  CoreDumpDirectory: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'CoreDumpDirectory directory', default: 'ServerRoot',
    summary: 'Working directory of the children, where a child aborted by MemoryPolicy abort dumps core',
    parse: nonEmpty,
  },
  LimitProcesses: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'LimitProcesses count|unlimited', default: 'unlimited (ServerLimit bounds the children)',
    summary: 'Most child processes at once, of every generation (old children still draining count); can change on a restart',
    parse: integer({ min: 0, unlimited: 0 }),
  },
  LimitFiles: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'LimitFiles count', default: '0 (the hard limit)',
    summary: 'Open files and sockets each process may have (RLIMIT_NOFILE); 0 means the most the system permits',
    parse: integer({ min: 0 }),
  },
  MinWorkers: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'MinWorkers number', default: '0',
    summary: "Threads each child's worker pool keeps, even idle",
    parse: integer({ min: 0, max: 1024 }),
  },
  LimitWorkers: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'LimitWorkers number', default: 'number of CPUs',
    summary: "Most threads in each child's worker pool",
    parse: integer({ min: 1, max: 1024 }),
  },
  ThreadStack: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ThreadStack size', default: "0 (Node's default, 4M)",
    summary: 'Stack size of each worker pool thread; 0 means the default',
    parse: threadStack,
  },
});
