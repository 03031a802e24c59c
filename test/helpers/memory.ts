// Helpers for the memory, crash and process-limit tests: what /proc says about a process, and
// load that makes a child's memory grow by what any proxy spends on it (connections whose
// requests carry large headers and wait for their backend), never by code added for tests.
import fs from 'node:fs';
import http from 'node:http';
import type { Daemon } from './daemon';
import { waitFor } from './daemon';
import { childPidsOf } from './mpm';

export const MiB = 2 ** 20;

function statusField(pid: number, name: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;
}

/** VmRSS in bytes: what LimitMemory measures. */
export function rssOf(pid: number): number {
  return statusField(pid, 'VmRSS');
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
  daemon.writeConfig(config(`${limitMb}M`));
  daemon.signal('SIGUSR1');
  const child = await waitFor('the new generation alone', async () => {
    const pids = childPidsOf(daemon);
    const [p, ...more] = (await daemon.status()).processes;
    return pids.length === 1 && more.length === 0 && p?.generation === 1 && p.pid === pids[0] ? pids[0] : null;
  });
  return { limit: limitMb * MiB, child };
}

/** Requests that wait at the backend; each has a header of `headerBytes`. */
export interface Held {
  /** Each request's status, or its error code. */
  results: Promise<Array<number | string>>;
  agent: http.Agent;
}

export function holdRequests(port: number, urlPath: string, count: number, headerBytes: number): Held {
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
