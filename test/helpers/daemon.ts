// Starts the real daemon as a separate process on a real configuration file, and reads what it
// says: its error log (JSON lines), its scoreboard through server-status?auto, its signals.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const bin = path.join(repoRoot, 'bin', 'mpmproxy.js');

export interface LogLine {
  level: string;
  time: string;
  pid: number;
  module?: string;
  msg: string;
  [key: string]: unknown;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mpmproxy-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export interface StatusProcess {
  slot: number;
  pid: number;
  generation: number;
  accepting: number;
  stopping: number;
  conns: number;
  connsTotal: number;
  requests: number;
  busy: number;
  keepalive: number;
  stateaware: number;
  websockets: number;
}

export interface Status {
  fields: Record<string, string>;
  processes: StatusProcess[];
}

export function parseStatusAuto(text: string): Status {
  const fields: Record<string, string> = {};
  const processes: StatusProcess[] = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    if (key === 'Process') {
      const p: Record<string, number> = {};
      for (const kv of value.split(/\s+/)) {
        const [k, v] = kv.split('=');
        p[k] = Number(v);
      }
      processes.push(p as unknown as StatusProcess);
    } else fields[key] = value;
  }
  return { fields, processes };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a fresh connection (agent: false) unless an agent is given. */
export function request(
  port: number,
  urlPath: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 30000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface DaemonOptions {
  /** Configuration text; `@PORT@`, `@DIR@` are replaced. Listen, PidFile, ErrorLog are added when absent. */
  config: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  args?: string[];
  /** Wait for server-status to show this many accepting children (needs a /server-status location). */
  waitChildren?: number;
}

export class Daemon {
  readonly dir: string;
  readonly port: number;
  readonly configFile: string;
  readonly errorLog: string;
  readonly pidFile: string;
  proc!: ChildProcess;
  stderr = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private exited!: Promise<void>;

  constructor(private readonly o: DaemonOptions & { port: number }) {
    this.dir = tempDir();
    this.port = o.port;
    this.configFile = path.join(this.dir, 'mpmproxy.conf');
    this.errorLog = path.join(this.dir, 'error.log');
    this.pidFile = path.join(this.dir, 'mpmproxy.pid');
    this.writeConfig(o.config);
  }

  /** Writes (or rewrites, before a reload) the configuration file. */
  writeConfig(text: string): void {
    let conf = text.replaceAll('@PORT@', String(this.port)).replaceAll('@DIR@', this.dir);
    const has = (name: string) => new RegExp(`^\\s*${name}\\s`, 'mi').test(conf);
    const extra: string[] = [];
    if (!has('Listen')) extra.push(`Listen 127.0.0.1:${this.port}`);
    if (!has('PidFile')) extra.push(`PidFile ${this.pidFile}`);
    if (!has('ErrorLog')) extra.push(`ErrorLog ${this.errorLog}`);
    if (!has('DefaultRuntimeDir')) extra.push(`DefaultRuntimeDir ${path.join(this.dir, 'run')}`);
    if (!has('LogLevel')) extra.push('LogLevel info');
    fs.writeFileSync(this.configFile, `${extra.join('\n')}\n${conf}\n`);
  }

  async start(): Promise<this> {
    this.proc = spawn(process.execPath, [bin, '-f', this.configFile, '-D', 'FOREGROUND', ...(this.o.args ?? [])], {
      env: { ...process.env, ...this.o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
    await waitFor(
      'the daemon to write its PidFile',
      () => {
        if (this.exitCode !== null || this.exitSignal !== null) {
          throw new Error(`daemon exited (${this.exitCode ?? this.exitSignal}): ${this.stderr}`);
        }
        return fs.existsSync(this.pidFile);
      },
      15000,
    );
    if (this.o.waitChildren) await this.waitAccepting(this.o.waitChildren);
    return this;
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  waitExit(timeoutMs = 15000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.exited, limit]).finally(() => clearTimeout(timer));
  }

  /** The error log as parsed JSON lines. */
  log(): LogLine[] {
    let text = '';
    try {
      text = fs.readFileSync(this.errorLog, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  async waitLog(what: string, match: (l: LogLine) => boolean, timeoutMs = 10000): Promise<LogLine> {
    return waitFor(what, () => this.log().find(match), timeoutMs);
  }

  async status(statusPath = '/server-status'): Promise<Status> {
    const r = await request(this.port, `${statusPath}?auto`);
    if (r.status !== 200) throw new Error(`server-status answered ${r.status}`);
    return parseStatusAuto(r.body.toString());
  }

  async waitAccepting(n: number, generation?: number, timeoutMs = 15000): Promise<Status> {
    return waitFor(
      `${n} children accepting`,
      async () => {
        const s = await this.status();
        const live = s.processes.filter((p) => p.stopping === 0 && (generation === undefined || p.generation === generation));
        return live.length >= n ? s : null;
      },
      timeoutMs,
    );
  }

  /** Stops the daemon (TERM) and waits; kills it if it does not go. */
  async stop(): Promise<void> {
    if (!this.proc || !this.alive) return;
    this.signal('SIGTERM');
    try {
      await this.waitExit(10000);
    } catch {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const port = o.port ?? (await freePort());
  return new Daemon({ ...o, port }).start();
}

/** Child pids of a process, from /proc. */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
