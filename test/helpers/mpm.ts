// Helpers for the process-model tests: a daemon and a backend that are always stopped, client
// loads that count every outcome, error-log queries, readers of /proc, and a stand-in for
// systemd's notify socket.
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { loadNative } from '../../src/native';
import { startBackend } from './backend';
import type { Backend } from './backend';
import { Daemon, childPids, freePort, request, sleep, waitFor } from './daemon';
import type { DaemonOptions, HttpResult, LogLine, Status, StatusProcess } from './daemon';

const STATUS_LOCATION = '<Location /server-status>\n  SetHandler server-status\n</Location>';

/** A configuration with `directives`, the backend under /b/ and the status page. */
export function proxyConfig(backend: Backend, directives: string[]): string {
  return [...directives, `ProxyPass /b/ ${backend.url}/`, STATUS_LOCATION].join('\n');
}

/**
 * Starts a daemon whose stop is registered before it starts, so that a start that fails half
 * way (children never accepting) still leaves no process behind.
 */
export async function launch(t: TestContext, o: DaemonOptions): Promise<Daemon> {
  const daemon = new Daemon({ ...o, port: o.port ?? (await freePort()) });
  t.after(async () => {
    await stopDaemon(daemon);
    fs.rmSync(daemon.dir, { recursive: true, force: true });
  });
  return daemon.start();
}

/**
 * Resolves when the daemon has exited, or rejects after `timeoutMs`. Unlike Daemon.waitExit it
 * clears its timer, which would otherwise keep the test process alive after its last test.
 */
export async function waitExit(daemon: Daemon, timeoutMs: number): Promise<void> {
  if (!daemon.alive) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([once(daemon.proc, 'exit'), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** TERM, then KILL if it is still there after 10 s. */
export async function stopDaemon(daemon: Daemon): Promise<void> {
  if (!daemon.proc || !daemon.alive) return;
  daemon.signal('SIGTERM');
  try {
    await waitExit(daemon, 10000);
  } catch {
    daemon.signal('SIGKILL');
    await waitExit(daemon, 10000);
  }
}

export async function launchBackend(t: TestContext): Promise<Backend> {
  const backend = await startBackend();
  t.after(() => backend.close());
  return backend;
}

/** Backend and daemon together, the daemon proxying /b/ to the backend. */
export async function launchProxy(
  t: TestContext,
  directives: string[],
  o: Omit<DaemonOptions, 'config'> = {},
): Promise<{ daemon: Daemon; backend: Backend }> {
  const backend = await launchBackend(t);
  const daemon = await launch(t, { ...o, config: proxyConfig(backend, directives) });
  return { daemon, backend };
}

/**
 * A backend whose answers wait until the test opens its gate, so a test decides when the
 * requests it holds end instead of guessing a duration that fits a loaded machine.
 */
export interface GateBackend {
  url: string;
  inFlight: number;
  maxInFlight: number;
  requests: number;
  /** Answers every waiting request, and every later one at once. */
  open(): void;
}

export async function launchGate(t: TestContext): Promise<GateBackend> {
  const waiting = new Set<http.ServerResponse>();
  let opened = false;
  const answer = (res: http.ServerResponse) => {
    waiting.delete(res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('gate open\n');
  };
  const state = { inFlight: 0, maxInFlight: 0, requests: 0 };
  const server = http.createServer((_req, res) => {
    state.requests++;
    state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight);
    res.on('close', () => state.inFlight--);
    if (opened) answer(res);
    else waiting.add(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    open() {
      opened = true;
      for (const res of [...waiting]) answer(res);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The error log

export function logsMatching(daemon: Daemon, msg: RegExp): LogLine[] {
  return daemon.log().filter((l) => msg.test(l.msg));
}

export function logTime(l: LogLine): number {
  return Date.parse(l.time);
}

/** The log, one line per entry, for assertion messages. */
export function logText(daemon: Daemon, last = 40): string {
  return daemon
    .log()
    .slice(-last)
    .map((l) => `${l.time} ${l.level} ${l.module ?? ''} ${l.msg}`)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// The scoreboard

export function generationOf(s: Status): number {
  return Number(s.fields.ParentServerConfigGeneration);
}

export function pidsOf(processes: StatusProcess[]): number[] {
  return processes.map((p) => p.pid).sort((a, b) => a - b);
}

/** server-status, retried: a status request can meet a child that is just being stopped. */
export function statusNow(daemon: Daemon, timeoutMs = 5000): Promise<Status> {
  return waitFor('server-status', () => daemon.status(), timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface Failure {
  /** errno-style code (ECONNRESET, ECONNREFUSED), or HTTP_<status> for an answer other than 200. */
  code: string;
  message: string;
  /** The request went out on a keep-alive connection that had already carried a request. */
  reused: boolean;
  /** The client's port of the connection, to tell which child held it. */
  localPort: number;
  at: number;
}

export interface LoadResult {
  ok: number;
  failures: Failure[];
  /** Requests retried after failing on a reused connection before any response byte. */
  retried: number;
  /** Client ports of every connection that carried a request. */
  ports: Set<number>;
}

export interface LoadOptions {
  port: number;
  path: string;
  clients: number;
  /** Each client keeps its connection alive across requests (one socket per client). */
  keepAlive: boolean;
  /** Each client stops after this many requests (else it runs until stop()). */
  requestsPerClient?: number;
  /** RFC 9112 §9.3.1: retry a request that failed on a reused connection before any byte of answer. */
  retryIdempotent?: boolean;
  /** Each client pauses a random time below this between requests, leaving its connection idle. */
  pauseMs?: number;
}

/** Long enough for any answer a test waits for; a hung request still ends the test. */
const REQUEST_TIMEOUT_MS = 15000;

export interface Load {
  readonly result: LoadResult;
  /** Lets every client finish its request in flight, then resolves with the totals. */
  stop(): Promise<LoadResult>;
  /** Resolves once every client is done (requestsPerClient) or stopped. */
  done: Promise<LoadResult>;
}

interface Attempt {
  status: number;
  error: NodeJS.ErrnoException | null;
  reused: boolean;
  localPort: number;
  /** Any byte of the response arrived. */
  answered: boolean;
}

function attempt(o: LoadOptions, agent: http.Agent | false): Promise<Attempt> {
  return new Promise((resolve) => {
    const a: Attempt = { status: 0, error: null, reused: false, localPort: 0, answered: false };
    const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path, agent, timeout: REQUEST_TIMEOUT_MS });
    req.on('socket', (socket) => {
      a.reused = req.reusedSocket;
      const note = () => (a.localPort = socket.localPort ?? 0);
      if (socket.localPort) note();
      else socket.once('connect', note);
    });
    req.on('response', (res) => {
      a.answered = true;
      a.status = res.statusCode ?? 0;
      res.on('data', () => undefined);
      res.on('end', () => resolve(a));
      res.on('error', (err) => resolve({ ...a, error: err }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => resolve({ ...a, error: err }));
    req.end();
  });
}

function record(result: LoadResult, a: Attempt): void {
  if (a.localPort) result.ports.add(a.localPort);
  if (!a.error && a.status === 200) {
    result.ok++;
    return;
  }
  const code = a.error ? (a.error.code ?? 'ERROR') : `HTTP_${a.status}`;
  result.failures.push({ code, message: a.error?.message ?? '', reused: a.reused, localPort: a.localPort, at: Date.now() });
}

/** Clients that each send requests back to back (or with pauses), counting every outcome. */
export function startLoad(o: LoadOptions): Load {
  const result: LoadResult = { ok: 0, failures: [], retried: 0, ports: new Set() };
  let stopping = false;
  const client = async () => {
    const agent = o.keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    for (let n = 0; !stopping && (o.requestsPerClient === undefined || n < o.requestsPerClient); n++) {
      let a = await attempt(o, agent);
      if (a.error && a.reused && !a.answered && o.retryIdempotent) {
        result.retried++;
        a = await attempt(o, agent);
      }
      record(result, a);
      if (o.pauseMs) await sleep(Math.random() * o.pauseMs);
    }
    if (agent) agent.destroy();
  };
  const done = Promise.all(Array.from({ length: o.clients }, client)).then(() => result);
  return {
    result,
    done,
    stop() {
      stopping = true;
      return done;
    },
  };
}

/** Failures as text, for assertion messages. */
export function describeFailures(failures: Failure[]): string {
  return failures.map((f) => `${f.code}${f.reused ? ' (reused)' : ''} port ${f.localPort}: ${f.message}`).join('\n');
}

/** Requests on fresh connections, all at once; resolves with each answer and when it came. */
export function concurrentRequests(port: number, paths: string[]): Promise<Array<HttpResult & { ms: number }>> {
  const t0 = Date.now();
  return Promise.all(paths.map(async (p) => ({ ...(await request(port, p)), ms: Date.now() - t0 })));
}

// ---------------------------------------------------------------------------------------------
// /proc

/** Real uid and gid of a process. */
export function procIds(pid: number): { uid: number; gid: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const id = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
  return { uid: id('Uid'), gid: id('Gid') };
}

/** Socket inodes of the established server-side connections on `port`, by client port. */
function serverSockets(port: number): Map<string, number> {
  const byInode = new Map<string, number>();
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01') continue;
    const local = Number.parseInt(f[1].split(':')[1], 16);
    const remote = Number.parseInt(f[2].split(':')[1], 16);
    if (local === port) byInode.set(f[9], remote);
  }
  return byInode;
}

/** Which of `pids` holds each client connection to `port`: client port → pid. */
export function connectionOwners(port: number, pids: number[]): Map<number, number> {
  const sockets = serverSockets(port);
  const owners = new Map<number, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const clientPort = inode === undefined ? undefined : sockets.get(inode);
      if (clientPort !== undefined) owners.set(clientPort, pid);
    }
  }
  return owners;
}

/** The master's children, from /proc. */
export function childPidsOf(daemon: Daemon): number[] {
  return childPids(daemon.pid);
}

export function scoreboardFile(masterPid: number): string {
  return `/dev/shm/mpmproxy.${masterPid}.scoreboard`;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// systemd's notify socket

/**
 * A datagram socket standing in for $NOTIFY_SOCKET. dgramRecv blocks its thread, so it is
 * called with a zero timeout from a timer: the test's event loop never stalls.
 */
export class NotifyListener {
  readonly address: string;
  readonly messages: string[] = [];
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-notify-'));
  private readonly fd: number;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.address = path.join(this.dir, 'notify.sock');
    this.fd = loadNative().dgramBind(this.address);
    this.timer = setInterval(() => this.drain(), 10);
  }

  private drain(): void {
    for (let m = loadNative().dgramRecv(this.fd, 0); m !== null; m = loadNative().dgramRecv(this.fd, 0)) {
      this.messages.push(m);
    }
  }

  /** The first message at or after index `from` that `match` accepts, and its index. */
  async next(what: string, from: number, match: (m: string) => boolean, timeoutMs = 10000): Promise<{ message: string; index: number }> {
    return waitFor(
      what,
      () => {
        const i = this.messages.findIndex((m, k) => k >= from && match(m));
        return i < 0 ? null : { message: this.messages[i], index: i };
      },
      timeoutMs,
      10,
    );
  }

  close(): void {
    clearInterval(this.timer);
    loadNative().close(this.fd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `KEY=value` lines of one notify datagram. */
export function notifyFields(message: string): Map<string, string> {
  return new Map(message.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export { sleep, waitFor };
