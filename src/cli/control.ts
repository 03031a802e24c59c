// `-k stop|restart|graceful|graceful-stop`: signal the running master named in PidFile.
import { readPid, isRunning } from '../master/pidfile';
import type { KCommand } from './args';

const signals: Record<Exclude<KCommand, 'start'>, NodeJS.Signals> = {
  stop: 'SIGTERM',
  restart: 'SIGHUP',
  graceful: 'SIGUSR1',
  'graceful-stop': 'SIGWINCH',
};

/** Returns the process exit status; messages go to stderr as apachectl's do. */
export function signalMaster(k: Exclude<KCommand, 'start'>, pidFile: string): number {
  const pid = readPid(pidFile);
  if (pid === null || !isRunning(pid)) {
    process.stderr.write(`mpmproxy (${pid === null ? 'no pid file' : `pid ${pid}?`}) not running\n`);
    return 1;
  }
  process.kill(pid, signals[k]);
  return 0;
}
