// Helpers for the memory, crash and process-limit tests: what /proc says about a process, and
// load that makes a child's memory grow by what any proxy spends on it (connections whose
// requests carry large headers and wait for their backend), never by code added for tests.
import fs from 'node:fs';
import http from 'node:http';
import type { TestContext } from 'node:test';
import { parseMemoryUse } from '../../src/limits/memory';
import type { MemoryUse } from '../../src/limits/memory';
import type { Daemon, LogLine } from './daemon';
import { waitFor } from './daemon';
import type { GateBackend } from './mpm';
import { childPidsOf, generationOf, statusNow } from './mpm';

export const MiB = 2 ** 20;

/** LimitMemory above the idle child's RSS (limitAboveIdle). A child that serves grows by about
 * 20 MB from idle (V8's young generation, the proxy's code and pools), and stays under the
 * redline of this. */
export const HEADROOM = 48 * MiB;
const HEADER_BYTES = 12_000;
/** Requests held at a time; far more than enough in all (each costs a child about 50 KB). */
const STEP = 20;
const PUSH_MOST = 3000;

/** One event child with room for every held request (under /gate/); spares low, so the
 * maintenance pass starts no second child beside it. Called with a LimitMemory value, adds it. */
export function oneChildConfig(gate: GateBackend, more: string[]): (limit?: string) => string {
  return (limit) =>
    [
      'StartServers 1',
      'ServerLimit 4',
      'ThreadLimit 1200',
      'ThreadsPerChild 1200',
      'MinSpareThreads 1',
      'KeepAliveTimeout 30',
      // Every held request reaches the child at once, none waits for a SYN retry.
      'ListenBacklog 2048',
      ...more,
      ...(limit ? [`LimitMemory ${limit}`] : []),
      `ProxyPass /gate/ ${gate.url}/`,
      '<Location /server-status>\n SetHandler server-status\n</Location>',
    ].join('\n');
}

function statusField(pid: number, name: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;
}

/** VmRSS in bytes: what LimitMemory measures. */
export function rssOf(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** A process's memory as the master measures it for LimitMemory and LimitMemoryServer. */
export function memoryOf(pid: number): MemoryUse {
  return parseMemoryUse(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** The value of --max-old-space-size on a process's command line, or null. */
export function heapLimitFlag(pid: number): number | null {
  const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const flag = args.find((a) => a.startsWith('--max-old-space-size='));
  return flag === undefined ? null : Number(flag.split('=')[1]);
}

/** One line of /proc/<pid>/limits: soft and hard values as written ('unlimited' or a number). */
export function procLimit(pid: number, name: string): { soft: string; hard: string } {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith(name));
  if (!line) throw new Error(`no "${name}" in /proc/${pid}/limits`);
  const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
  return { soft, hard };
}

/** Matches the master's line for child `pid` leaving cleanly. */
export function exitOf(pid: number): (l: LogLine) => boolean {
  return (l) => l.child === pid && /exited \(exit code 0\)/.test(l.msg);
}

/** Threads of a process, from /proc/<pid>/task. */
export function threadCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/task`).length;
}

/** The one child of the current generation, once it is alone. */
export async function onlyChild(daemon: Daemon): Promise<number> {
  return waitFor('one child', () => {
    const pids = childPidsOf(daemon);
    return pids.length === 1 ? pids[0] : null;
  });
}

/**
 * Rewrites the configuration with `LimitMemory` at the RSS of the running (idle) child plus
 * `headroom`, so the limit fits this Node version's idle child, restarts gracefully and waits
 * for the new generation's child alone. Returns the limit in bytes and that child's pid.
 */
export async function limitAboveIdle(
  daemon: Daemon,
  config: (limitMemory: string) => string,
  headroom: number,
): Promise<{ limit: number; child: number }> {
  const idle = rssOf(await onlyChild(daemon));
  const limitMb = Math.ceil((idle + headroom) / MiB);
  const [child] = await restartInto(daemon, config(`${limitMb}M`), 1);
  return { limit: limitMb * MiB, child };
}

/** Restarts gracefully into `config` and waits until only the `children` of the next generation run. */
export async function restartInto(daemon: Daemon, config: string, children: number): Promise<number[]> {
  const next = generationOf(await statusNow(daemon)) + 1;
  daemon.writeConfig(config);
  daemon.signal('SIGUSR1');
  return waitFor('the new generation alone', async () => {
    const pids = childPidsOf(daemon).sort();
    const listed = (await daemon.status()).processes;
    const fresh = listed.filter((p) => p.generation === next).map((p) => p.pid).sort();
    return pids.length === children && listed.length === children && fresh.join() === pids.join() ? pids : null;
  });
}

/** Requests that wait at the backend; each has a header of `headerBytes`. */
interface Held {
  /** Each request's status, or its error code. */
  results: Promise<Array<number | string>>;
  agent: http.Agent;
}

function holdRequests(port: number, urlPath: string, count: number, headerBytes: number): Held {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const header = 'x'.repeat(headerBytes);
  const one = () =>
    new Promise<number | string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: urlPath, agent, headers: { 'x-padding': header } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'ERROR'));
      req.end();
    });
  return { results: Promise.all(Array.from({ length: count }, one)), agent };
}

/** Keep-alive connections that each carried one request and now wait idle for the next. */
export async function idleKeepAlive(port: number, count: number): Promise<http.Agent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count });
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/server-status?auto', agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
        }),
    ),
  );
  return agent;
}

/** Each status or error code with how often it came. */
export function tally(results: Array<number | string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

export interface Pushed {
  /** The log line that ended the push. */
  line: LogLine;
  /** Each held request's status or error code, once the gate opens. */
  results: Promise<Array<number | string>>;
}

/**
 * Holds requests with 12 KB headers at the gate, STEP more each time the last ones reached it
 * (so the children accepted them all), until the log has a line that `until` accepts. A request
 * not accepted yet when its child left would go to the replacement, and a burst of them could
 * take that one over its limit as well.
 */
export async function pushUntil(t: TestContext, daemon: Daemon, gate: GateBackend, until: (l: LogLine) => boolean): Promise<Pushed> {
  const steps: Held[] = [];
  const seen = () => daemon.log().find(until);
  const base = gate.inFlight;
  while (!seen() && steps.length * STEP < PUSH_MOST) {
    const step = holdRequests(daemon.port, '/gate/held', STEP, HEADER_BYTES);
    t.after(() => step.agent.destroy());
    steps.push(step);
    const target = base + steps.length * STEP;
    await waitFor('the requests at the backend', () => gate.inFlight >= target || seen(), 20_000, 10);
  }
  const line = await daemon.waitLog('the line that ends the push', until);
  return { line, results: Promise.all(steps.map((h) => h.results)).then((all) => all.flat()) };
}
