// The error log. Every process (master, children, threads) writes JSON lines through pino to
// the same destination; O_APPEND keeps lines whole across processes. Levels are Apache's
// (emerg … trace1) so `LogLevel notice proxy:debug` reads as it does in httpd.
import pino from 'pino';
import type { LogLevelName } from '../config/types';

export type ModuleName = 'core' | 'config' | 'master' | 'mpm' | 'child' | 'proxy' | 'status';

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

export interface LogConfig {
  errorLog: string; // path, 'stderr' or 'syslog'
  logLevel: { level: LogLevelName; modules: Record<string, LogLevelName> };
}

export type Logger = pino.Logger<'emerg' | 'alert' | 'crit' | 'notice' | 'trace1'>;

interface LogState {
  root: Logger;
  destination: pino.DestinationStream & { reopen?: () => void; flushSync?: () => void };
  config: LogConfig;
  modules: Map<ModuleName, Logger>;
}

let state: LogState | null = null;

function openDestination(errorLog: string): LogState['destination'] {
  // Synchronous, as httpd writes its error log and as Node writes process.stderr to files and
  // pipes on Linux: a line is in the log before what follows the call happens (the answer to
  // the client, an exit, a crash), so none is lost or seen late. A file opened asynchronously
  // is also not ready when a process exits early (a bind error at start-up), and pino's exit
  // hook then throws instead of flushing.
  // 'syslog' means stderr in the journal-friendly JSON form: under systemd stderr is the journal.
  // Children whose master opened the ErrorLog file for them write it as their stderr.
  if (errorLog === 'stderr' || errorLog === 'syslog') return pino.destination({ fd: 2, sync: true });
  return pino.destination({ dest: errorLog, sync: true, append: true, mkdir: true });
}

function build(destination: LogState['destination']): Logger {
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
  const destination = openDestination(config.errorLog);
  state = { root: build(destination), destination, config, modules: new Map() };
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

/** Reopens a log file in place (logrotate, graceful restart). */
export function reopenLogs(): void {
  state?.destination.reopen?.();
}

/** Writes out what is buffered; called before the process exits. */
export function flushLogs(): void {
  try {
    state?.destination.flushSync?.();
  } catch {
    // A destination that is not ready yet has nothing buffered to lose.
  }
}
