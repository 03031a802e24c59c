// What the limits tests share: a daemon with two event children and the status page, clients
// from chosen loopback addresses (each address is another client), server-status read from an
// address the test does not count, and the limits' lines of it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { daemonFor, RawConnection, statusLocation } from './cli';
import type { Daemon, LogLine, Status } from './daemon';
import { parseStatusAuto, waitFor } from './daemon';

/** Where a helper registers what to undo at the end: a test's context, or a suite's list. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** The address tests read server-status from: a client no test limit counts against. */
export const OBSERVER = '127.0.0.9';

/** Two event children (connections spread over both), the status page, then `lines`. */
export function twoChildren(...lines: string[]): string {
  // The observer's connection lives through the test: no keep-alive bound closes it.
  return ['StartServers 2', 'MinSpareThreads 1', 'MaxSpareThreads 100000', 'MaxKeepAliveRequests unlimited', 'KeepAliveTimeout 60', statusLocation, ...lines].join('\n');
}

export async function limitsDaemon(t: Cleanup, ...lines: string[]): Promise<Daemon> {
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

/**
 * A connection from the OBSERVER address that reads server-status for the test, opened once the
 * daemon's start-up status requests are all closed: from then on the children hold exactly the
 * test's connections and this one.
 */
export async function observer(t: TestContext, d: Daemon): Promise<RawConnection> {
  const [conn] = await connections(t, d.port, 1, OBSERVER);
  // Both children accepting too, so that the test's connections spread from the first one.
  await waitFor(
    'only the observer connected, both children accepting',
    async () => {
      const s = await limitsStatus(conn);
      return s.processes.reduce((n, p) => n + p.conns, 0) === 1 && s.processes.filter((p) => p.accepting === 1).length >= 2;
    },
    20000,
  );
  return conn;
}

/** Waits until the children together hold `n` client connections (the status request's own
 * included), some on each child. */
export async function waitSpread(from: Daemon | RawConnection, n: number): Promise<LimitsStatus> {
  return waitFor(`${n} connections over both children`, async () => {
    const s = await limitsStatus(from);
    const conns = s.processes.map((p) => p.conns);
    // The page reads the limit counters and the scoreboard one after the other: a connection
    // the other child takes in between shows in one and not yet in the other.
    const counted = s.connections === null || s.connections === n;
    return counted && conns.reduce((a, b) => a + b, 0) === n && conns.filter((c) => c > 0).length >= 2 ? s : null;
  });
}

/** The first log line of `limit` (its own line, not a summary). */
export function limitLine(d: Daemon, limit: string, timeoutMs = 5000): Promise<LogLine> {
  return d.waitLog(`a log line naming ${limit}`, (l) => l.limit === limit && l.summary === undefined, timeoutMs);
}

/** What the body backend saw of each request, by path. */
export interface BodySeen {
  path: string;
  /** When the request reached the backend (Date.now()). */
  at: number;
  bytes: number;
  complete: boolean;
}

export interface BodyBackend {
  url: string;
  seen: BodySeen[];
}

/**
 * A backend for the request and response limits:
 *   /chunked?size=N   answers N bytes in one write, chunked (no Content-Length)
 *   /download?size=N  answers N bytes with a Content-Length
 *   anything else     reads the body and answers its length; `seen` says what it got
 */
export async function launchBodyBackend(t: Cleanup): Promise<BodyBackend> {
  const seen: BodySeen[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const size = Number(url.searchParams.get('size') ?? '0');
    if (url.pathname === '/chunked' || url.pathname === '/download') {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
      if (url.pathname === '/download') headers['content-length'] = size;
      res.writeHead(200, headers);
      res.end(Buffer.alloc(size, 0x61));
      return;
    }
    const entry: BodySeen = { path: url.pathname, at: Date.now(), bytes: 0, complete: false };
    seen.push(entry);
    req.on('data', (c: Buffer) => (entry.bytes += c.length));
    req.on('error', () => undefined);
    req.on('end', () => {
      entry.complete = true;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${entry.bytes}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

export interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A request whose body goes out in `pieces`, `everyMs` apart (chunked unless `headers` give a
 * Content-Length); resolves with the answer, or with status 0 if the connection was cut first.
 */
export function sendSlowly(port: number, urlPath: string, pieces: Array<string | Buffer>, everyMs: number, headers: http.OutgoingHttpHeaders = {}): Promise<Sent> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Sent) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', () => finish({ status: 0, headers: {}, body: '' }));
    let i = 0;
    const next = () => {
      if (done || req.destroyed) return;
      if (i === pieces.length) return void req.end();
      req.write(pieces[i++]);
      setTimeout(next, everyMs);
    };
    next();
  });
}
