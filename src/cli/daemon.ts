// Without -D FOREGROUND the command detaches, as httpd does: it starts a copy of itself in a new
// session with -D FOREGROUND and returns once that copy has written its PidFile. The copy's
// stderr goes to the ErrorLog file (or nowhere when ErrorLog is stderr: a daemon has no terminal).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readPid } from '../master/pidfile';

const STARTUP_LIMIT_MS = 15000;

export function daemonize(argv: string[], pidFile: string, errorLog: string): Promise<number> {
  const toFile = errorLog !== 'stderr' && errorLog !== 'syslog';
  if (toFile) fs.mkdirSync(path.dirname(errorLog), { recursive: true });
  const err = fs.openSync(toFile ? errorLog : '/dev/null', 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv, '-D', 'FOREGROUND'], {
    detached: true,
    stdio: ['ignore', 'ignore', err],
  });
  fs.closeSync(err);
  return new Promise((resolve) => {
    const started = Date.now();
    const done = (code: number, message?: string) => {
      clearInterval(poll);
      child.removeAllListeners('exit');
      child.unref();
      if (message) process.stderr.write(`mpmproxy: ${message}\n`);
      resolve(code);
    };
    const poll = setInterval(() => {
      if (readPid(pidFile) === child.pid) done(0);
      else if (Date.now() - started > STARTUP_LIMIT_MS) done(1, `the daemon did not write ${pidFile} within ${STARTUP_LIMIT_MS / 1000}s`);
    }, 50);
    child.once('exit', (code) =>
      done(1, `the daemon exited during start-up (exit code ${code})${toFile ? `; see ${errorLog}` : '; run with -D FOREGROUND to see why'}`),
    );
  });
}
