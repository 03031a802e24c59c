// The error log. Every process (master, children, threads) writes JSON lines through pino to
// the same destination; O_APPEND keeps lines whole across processes. Levels are Apache's
// (emerg … trace1) so `LogLevel notice proxy:debug` reads as it does in httpd.
import pino from 'pino';
import { logModuleNames } from '../config/log-level';
import type { LogLevelName } from '../config/types';

/** The parts of mpmproxy that log under their own name and take their own LogLevel. */
export type ModuleName = (typeof logModuleNames)[number];

const levelValues: Record<LogLevelName, number> = {
  emerg: 70,
  alert: 65,
  crit: 60,
  error: 50,
  warn: 40,
  notice: 35,
  info: 30,
  debug: 20,
  trace1: 10,
};

/** syslog(3) priorities of the levels (trace1 is debug to syslog, as in httpd). */
const syslogPriority = new Map<number, number>([
  [70, 0],
  [65, 1],
  [60, 2],
  [50, 3],
  [40, 4],
  [35, 5],
  [30, 6],
  [20, 7],
  [10, 7],
]);

export interface LogConfig {
  errorLog: string; // path, 'stderr' or 'syslog'
  logLevel: { level: LogLevelName; modules: Record<string, LogLevelName> };
}

export type Logger = pino.Logger<'emerg' | 'alert' | 'crit' | 'notice' | 'trace1'>;

type Destination = pino.DestinationStream & { flushSync?: () => void };

interface LogState {
  root: Logger;
  destination: Destination;
  /** The open file, for reopening; null for stderr. */
  file: ReturnType<typeof pino.destination> | null;
  config: LogConfig;
  modules: Map<ModuleName, Logger>;
}

let state: LogState | null = null;

/** What else this thread buffers (the access logs), written out by flushLogs(). */
const buffered = new Set<() => void>();

/**
 * `ErrorLog syslog`: the JSON line on stderr behind its syslog priority, `<3>{"level":"error"…`,
 * the sd-daemon(3) prefix that journald reads from a service's stderr to set PRIORITY= (and
 * strips from the message). pino tells a destination marked with its metadata symbol the level
 * of the line it is about to write.
 */
function syslogDestination(stderr: ReturnType<typeof pino.destination>): Destination {
  return {
    [pino.symbols.needsMetadataGsym]: true,
    lastLevel: 0,
    write(line: string) {
      stderr.write(`<${syslogPriority.get(this.lastLevel) ?? 7}>${line}`);
    },
    flushSync: () => stderr.flushSync(),
  } as Destination & { lastLevel: number };
}

function openDestination(errorLog: string): Pick<LogState, 'destination' | 'file'> {
  // Synchronous, as httpd writes its error log and as Node writes process.stderr to files and
  // pipes on Linux: a line is in the log before what follows the call happens (the answer to
  // the client, an exit, a crash), so none is lost or seen late. A file opened asynchronously
  // is also not ready when a process exits early (a bind error at start-up), and pino's exit
  // hook then throws instead of flushing.
  // Children whose master opened the ErrorLog file for them write it as their stderr.
  if (errorLog === 'stderr') return { destination: pino.destination({ fd: 2, sync: true }), file: null };
  if (errorLog === 'syslog') return { destination: syslogDestination(pino.destination({ fd: 2, sync: true })), file: null };
  const file = pino.destination({ dest: errorLog, sync: true, append: true, mkdir: true });
  return { destination: file, file };
}

function build(destination: Destination): Logger {
  return pino(
    {
      level: 'trace1',
      customLevels: { emerg: 70, alert: 65, crit: 60, notice: 35, trace1: 10 },
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  ) as Logger;
}

/** Opens (or re-targets) the error log for this process. */
export function configureLogging(config: LogConfig): void {
  if (state && state.config.errorLog === config.errorLog) {
    state.config = config;
    state.modules.clear();
    return;
  }
  state?.destination.flushSync?.();
  const opened = openDestination(config.errorLog);
  state = { root: build(opened.destination), ...opened, config, modules: new Map() };
}

function current(): LogState {
  if (!state) configureLogging({ errorLog: 'stderr', logLevel: { level: 'warn', modules: {} } });
  return state as LogState;
}

/** A logger for one module, at that module's level (`LogLevel ... proxy:debug`). */
export function log(module: ModuleName): Logger {
  const s = current();
  let l = s.modules.get(module);
  if (!l) {
    const level = s.config.logLevel.modules[module] ?? s.config.logLevel.level;
    l = s.root.child({ module }, { level }) as Logger;
    s.modules.set(module, l);
  }
  return l;
}

/** Whether `module` logs at `level`, to skip building messages on hot paths. */
export function logs(module: ModuleName, level: LogLevelName): boolean {
  return levelValues[level] >= (log(module).levels.values[log(module).level] ?? 0);
}

/** Reopens the ErrorLog file at its path (logrotate, graceful restart); stderr stays as it is. */
export function reopenLogs(): void {
  state?.file?.reopen();
}

/** Registers a buffered log for flushLogs(). */
export function flushOnExit(flushSync: () => void): void {
  buffered.add(flushSync);
}

/** Writes out what is buffered; called before the process exits. */
export function flushLogs(): void {
  for (const flush of buffered) flush();
  try {
    state?.destination.flushSync?.();
  } catch {
    // A destination that is not ready yet has nothing buffered to lose.
  }
}
