// What the limits tests share: a daemon with two event children and the status page, clients
// from chosen loopback addresses (each address is another client), server-status read from an
// address the test does not count, and the limits' lines of it.
import http from 'node:http';
import type { TestContext } from 'node:test';
import { daemonFor, RawConnection, statusLocation } from './cli';
import type { Daemon, LogLine, Status } from './daemon';
import { parseStatusAuto, waitFor } from './daemon';

/** The address tests read server-status from: a client no test limit counts against. */
export const OBSERVER = '127.0.0.9';

/** Two event children (connections spread over both), the status page, then `lines`. */
export function twoChildren(...lines: string[]): string {
  return ['StartServers 2', 'MinSpareThreads 1', 'MaxSpareThreads 100000', statusLocation, ...lines].join('\n');
}

export async function limitsDaemon(t: TestContext, ...lines: string[]): Promise<Daemon> {
  return daemonFor(t, { config: twoChildren(...lines), waitChildren: 2 });
}

/** `n` open connections from `from`, closed when the test ends. */
export async function connections(t: TestContext, port: number, n: number, from = '127.0.0.1'): Promise<RawConnection[]> {
  const conns: RawConnection[] = [];
  t.after(() => conns.forEach((c) => c.close()));
  for (let i = 0; i < n; i++) conns.push(await RawConnection.open(port, '127.0.0.1', from));
  return conns;
}

/** One GET from the address `from` on a fresh connection. */
export function getFrom(port: number, urlPath: string, from: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, localAddress: from, agent: false, headers, timeout: 10000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

export interface LimitsStatus extends Status {
  /** LimitedConnections, or null when LimitConnections is not in force. */
  connections: number | null;
  clients: number | null;
  rejections: Record<string, number>;
}

/** server-status?auto from the OBSERVER address, or on a connection the test holds (which a
 * limit already counts, so that reading the status changes nothing). */
export async function limitsStatus(from: Daemon | RawConnection): Promise<LimitsStatus> {
  const r = from instanceof RawConnection ? await from.get('/server-status?auto') : await getFrom(from.port, '/server-status?auto', OBSERVER);
  if (r.status !== 200) throw new Error(`server-status answered ${r.status}`);
  const s = parseStatusAuto(r.body);
  const number = (key: string) => (s.fields[key] === undefined ? null : Number(s.fields[key]));
  const rejections: Record<string, number> = {};
  for (const kv of (s.fields.LimitRejections ?? '').split(' ')) {
    const [k, v] = kv.split('=');
    if (k) rejections[k] = Number(v);
  }
  return { ...s, connections: number('LimitedConnections'), clients: number('LimitedClients'), rejections };
}

/** Waits until the children together hold `n` client connections (the status request's own
 * included), some on each child. */
export async function waitSpread(from: Daemon | RawConnection, n: number): Promise<LimitsStatus> {
  return waitFor(`${n} connections over both children`, async () => {
    const s = await limitsStatus(from);
    const conns = s.processes.map((p) => p.conns);
    return conns.reduce((a, b) => a + b, 0) === n && conns.filter((c) => c > 0).length >= 2 ? s : null;
  });
}

/** The first log line of `limit` (its own line, not a summary). */
export function limitLine(d: Daemon, limit: string, timeoutMs = 5000): Promise<LogLine> {
  return d.waitLog(`a log line naming ${limit}`, (l) => l.limit === limit && l.summary === undefined, timeoutMs);
}
