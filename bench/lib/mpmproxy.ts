// Starts the daemon under test the way an operator does (`mpmproxy -f FILE -D FOREGROUND`) on a
// generated configuration, with server-status enabled so a benchmark can read the scoreboard.
import fs from 'node:fs';
import path from 'node:path';
import { LOOPBACK, sleep, waitForPort } from './ports';
import { deathOf, fileTail, runCommand, startProcess } from './processes';
import type { RunningProcess } from './processes';
import { fetchServerStatus } from './server-status';
import type { ServerStatus } from './server-status';
import type { WorkDir } from './work-dir';

// dist/bench/lib → the repository root, where bin/ and the compiled daemon are.
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'bin', 'mpmproxy.js');

export interface MpmproxyOptions {
  dir: WorkDir;
  port: number;
  /** Directives after the generated Listen, PidFile, logs and server-status location. */
  directives: string[];
  /** Resolve only once this many children are up and accepting. */
  children: number;
}

export interface Mpmproxy {
  port: number;
  configFile: string;
  process: RunningProcess;
  status(): Promise<ServerStatus>;
  stop(): Promise<void>;
}

export function mpmproxyConfig(o: MpmproxyOptions): string {
  const d = o.dir.path;
  return [
    `Listen ${LOOPBACK}:${o.port}`,
    `PidFile ${d}/mpmproxy.pid`,
    `DefaultRuntimeDir ${d}/run`,
    `ErrorLog ${o.dir.file('error.log')}`,
    'LogLevel warn',
    '<Location /server-status>',
    '  SetHandler server-status',
    '</Location>',
    ...o.directives,
    '',
  ].join('\n');
}

/** Directives for exactly `children` children of a threaded MPM that neither spawn nor retire
 * during a run: MaxRequestWorkers caps them, and the spare limits never ask for more or fewer. */
export function fixedChildren(mpm: 'event' | 'worker', children: number, threadsPerChild: number): string[] {
  return [
    `MPM ${mpm}`,
    `StartServers ${children}`,
    `ThreadsPerChild ${threadsPerChild}`,
    `MaxRequestWorkers ${children * threadsPerChild}`,
    'MinSpareThreads 1',
    'MaxSpareThreads 100000',
  ];
}

/** Whether `pid` is still one of this daemon's processes (and not a new process given its pid). */
function isOurs(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(repoRoot);
  } catch {
    return false;
  }
}

export async function startMpmproxy(o: MpmproxyOptions): Promise<Mpmproxy> {
  const configFile = o.dir.write('mpmproxy.conf', mpmproxyConfig(o));
  const errorLog = o.dir.file('error.log');
  const check = await runCommand(process.execPath, [bin, '-t', '-f', configFile]);
  if (check.code !== 0) throw new Error(`mpmproxy rejected ${configFile}:\n${check.stderr || check.stdout}`);
  const p = startProcess({
    name: 'mpmproxy',
    command: process.execPath,
    args: [bin, '-f', configFile, '-D', 'FOREGROUND'],
    cwd: repoRoot,
    logFile: o.dir.file('mpmproxy.out'),
  });
  // The daemon says why it stopped in its ErrorLog, not on its stdout.
  const died = () => {
    const death = deathOf(p);
    return death && new Error(`${death.message}\n${fileTail(errorLog)}`);
  };
  // Every child pid ever seen, so none is left behind if the master fails to stop it.
  const childPids = new Set<number>();
  const status = async () => {
    const s = await fetchServerStatus(o.port);
    for (const c of s.children) childPids.add(c.pid);
    return s;
  };
  const stop = async () => {
    await p.stop('SIGTERM', 15_000);
    await sleep(200);
    for (const pid of childPids) if (isOurs(pid)) process.kill(pid, 'SIGKILL');
  };
  try {
    await waitForPort(o.port, { failIf: died });
    const until = Date.now() + 20_000;
    let last = 'no answer yet';
    for (;;) {
      const failure = died();
      if (failure) throw failure;
      // A failed status request while the daemon starts (or dies: then `died` says why next turn).
      const s = await status().catch((err: Error) => {
        last = err.message;
        return null;
      });
      // A prefork child stops accepting while it serves, and one is serving this very request.
      const ready = s?.children.filter((c) => !c.stopping && (c.accepting || c.conns > 0)) ?? [];
      if (ready.length >= o.children) break;
      if (s) last = `${ready.length} of ${o.children} children ready`;
      if (Date.now() > until) throw new Error(`mpmproxy: children not ready after 20 s (${last})`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: o.port, configFile, process: p, status, stop };
}
