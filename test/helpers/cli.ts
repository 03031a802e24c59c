// What the command-line and directive-effect tests share on top of daemon.ts: running the
// command and reading what it prints, a daemon that is stopped even when its test fails, a
// raw HTTP/1.1 connection whose socket the test controls, and a few views of the processes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { Daemon, bin, freePort, tempDir, waitFor } from './daemon';
import type { DaemonOptions } from './daemon';
import { isAlive, stopDaemon } from './mpm';

/** The status page, which `waitChildren` and `Daemon.status()` read. */
export const statusLocation = '<Location /server-status>\n SetHandler server-status\n</Location>';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mpmproxy ARGS` to its end; a hung command fails after `timeoutMs` instead of hanging the suite. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 20000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Writes `files` (name -> text) under `dir`, creating folders, and returns `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return dir;
}

/** A temporary folder removed when the test ends. */
export function testDir(t: TestContext): string {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a daemon whose stop (and folder removal) is registered before it starts, so a test
 * that fails anywhere, even while the daemon starts, never leaves it running. `prepare` runs
 * between the configuration being written and the start, to put files where `@DIR@` points. */
export async function daemonFor(t: { after(fn: () => unknown): void }, o: DaemonOptions, prepare?: (dir: string) => void): Promise<Daemon> {
  const d = new Daemon({ ...o, port: o.port ?? (await freePort()) });
  t.after(async () => {
    await stopDaemon(d);
    fs.rmSync(d.dir, { recursive: true, force: true });
  });
  prepare?.(d.dir);
  return d.start();
}

export interface CliConfig {
  port: number;
  file: string;
  pidFile: string;
}

/** A configuration for a master the test starts through the command itself (-k): its own
 * folder and port, PidFile, log and runtime directory inside the folder, one child. */
export async function cliConfig(t: TestContext, o: { pidFile?: string; port?: number } = {}): Promise<CliConfig> {
  const dir = testDir(t);
  const port = o.port ?? (await freePort());
  const pidFile = o.pidFile ?? path.join(dir, 'run', 'mpmproxy.pid');
  const text = [
    `Listen 127.0.0.1:${port}`,
    `PidFile ${pidFile}`,
    `ErrorLog ${path.join(dir, 'error.log')}`,
    `DefaultRuntimeDir ${path.join(dir, 'run')}`,
    'LogLevel info',
    'StartServers 1',
    statusLocation,
  ].join('\n');
  writeFiles(dir, { 'mpmproxy.conf': `${text}\n` });
  return { port, file: path.join(dir, 'mpmproxy.conf'), pidFile };
}

/** Waits until `pid` has exited (a zombie of another parent counts as gone). */
export async function waitGone(pid: number, timeoutMs = 10000): Promise<void> {
  await waitFor(`pid ${pid} to exit`, () => !isAlive(pid) || processState(pid) === 'Z', timeoutMs);
}

function processState(pid: number): string | null {
  try {
    return /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The session a process belongs to (/proc/PID/stat): a detached daemon leads its own. */
export function sessionOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // pid (comm) state ppid pgrp session ...; comm may hold blanks and parentheses.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

/** Stops a master this test did not spawn itself (one detached by `-k start`): TERM, then KILL. */
export async function stopDetached(pid: number): Promise<void> {
  if (!signalIfAlive(pid, 'SIGTERM')) return;
  try {
    await waitGone(pid, 8000);
  } catch {
    signalIfAlive(pid, 'SIGKILL');
  }
}

/** False when the process was already gone (it may exit between any check and the signal). */
function signalIfAlive(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One client connection speaking HTTP/1.1 by hand, so a test decides when it is opened, left
 * idle and closed, and sees the server close it. */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private ended = false;
  /** Resolves when the socket closes, by either side; the value is when (Date.now()). */
  readonly closed: Promise<number>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiting?.();
    });
    socket.on('error', () => undefined); // a reset shows as 'close', which is what tests read
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.waiting?.();
        resolve(Date.now());
      }),
    );
  }

  /** `localAddress` picks the client's own address (127.0.0.2 is another client of 127.0.0.1). */
  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, localAddress }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** When the socket closed, or null if it is still open after `ms`. */
  closedWithin(ms: number): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      void this.closed.then((at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Sends a GET without waiting for its answer. */
  send(urlPath: string, headers: Record<string, string> = {}): void {
    const lines = [`GET ${urlPath} HTTP/1.1`, ...Object.entries({ host: 'localhost', ...headers }).map(([k, v]) => `${k}: ${v}`)];
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /** Reads the next whole response; rejects if the socket closes first or `timeoutMs` passes. */
  async response(timeoutMs = 10000): Promise<RawResponse> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.buffer, this.ended);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.length);
        return parsed.response;
      }
      if (this.ended) throw new Error(`connection closed before a whole response (${this.buffer.length} bytes)`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
  }

  async get(urlPath: string, headers: Record<string, string> = {}, timeoutMs?: number): Promise<RawResponse> {
    this.send(urlPath, headers);
    return this.response(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

function parseResponse(buf: Buffer, ended: boolean): { response: RawResponse; length: number } | null {
  const head = buf.indexOf('\r\n\r\n');
  if (head < 0) return null;
  const [statusLine, ...fields] = buf.subarray(0, head).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(':');
    headers[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  const start = head + 4;
  const body = (end: number, text: string) => ({ response: { status, headers, body: text }, length: end });
  if (headers['content-length'] !== undefined) {
    const end = start + Number(headers['content-length']);
    return buf.length >= end ? body(end, buf.subarray(start, end).toString()) : null;
  }
  if (headers['transfer-encoding'] === 'chunked') return parseChunked(buf, start, body);
  // Neither: the body runs to the end of the connection.
  return ended ? body(buf.length, buf.subarray(start).toString()) : null;
}

function parseChunked<R>(buf: Buffer, start: number, done: (end: number, text: string) => R): R | null {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) {
      const end = buf.indexOf('\r\n', eol + 2);
      return end < 0 ? null : done(end + 2, Buffer.concat(parts).toString());
    }
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** One request on a fresh connection to any address (daemon.ts's `request` speaks only to 127.0.0.1). */
export function fetchText(host: string, port: number, urlPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, headers, agent: false, timeout: 10000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** Whether the machine can bind ::1 (containers often have no IPv6). */
export function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

/** The accept queue length of a listening TCP port as `ss -ltn` shows it (Send-Q), or null
 * when `ss` is missing. */
export function listenQueueLimit(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve(null);
      // State Recv-Q Send-Q Local:Port Peer:Port
      const fields = stdout.trim().split('\n')[0]?.trim().split(/\s+/) ?? [];
      resolve(fields.length >= 4 ? Number(fields[2]) : null);
    });
  });
}

export function hasCommand(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, name)));
}

/** How long `work` takes, in ms, with its result. */
export async function timed<T>(work: Promise<T>): Promise<{ ms: number; value: T }> {
  const start = Date.now();
  const value = await work;
  return { ms: Date.now() - start, value };
}

/** A backend that sends its headers at once and then one small chunk every `everyMs` for
 * `?ms=N`: a response that takes long without ever going quiet for as long as `Timeout`. */
export async function dripBackendFor(t: TestContext, everyMs = 200): Promise<{ url: string; inFlight: () => number }> {
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    res.on('close', () => inFlight--);
    const ms = Number(new URL(req.url ?? '/', 'http://drip').searchParams.get('ms') ?? '1000');
    const until = Date.now() + ms;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const tick = setInterval(() => {
      if (Date.now() < until) {
        res.write('.');
        return;
      }
      clearInterval(tick);
      res.end('done\n');
    }, everyMs);
    res.on('close', () => clearInterval(tick));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, inFlight: () => inFlight };
}
