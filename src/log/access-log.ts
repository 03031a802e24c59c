// The access log of one serving event loop (a child's main thread or one of its worker
// threads): which CustomLogs a request goes to, the Exchange record of it, and the writers.
// A virtual host with CustomLogs of its own logs there only; the others use the main
// server's, as in httpd.
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import { hostIndexFor } from '../child/router';
import type { AccessLogSpec, Settings } from '../config/types';
import type { CountedResponse } from './counted-response';
import type { Exchange } from './exchange';
import { jsonFormat } from './json-format';
import { compileLogFormat, type LineFormat } from './log-format';
import { LogWriter } from './log-writer';

interface CompiledLog {
  writer: LogWriter;
  line: LineFormat;
}

interface HostLogs {
  serverName: string;
  logs: CompiledLog[];
}

/** ServerName without its scheme and port, as %v shows it. */
function canonicalName(serverName: string | null | undefined): string {
  if (!serverName) return os.hostname();
  return serverName.replace(/^https?:\/\//, '').replace(/:\d+$/, '');
}

export class AccessLog {
  private constructor(
    /** The settings to choose a request's host by, or null when every request logs alike, so no
     * request pays for choosing a host twice. */
    private readonly hostPicker: Settings | null,
    /** The main server's logs, then each virtual host's, as numbered by hostIndexFor(). */
    private readonly hosts: HostLogs[],
    private readonly writers: LogWriter[],
  ) {}

  /** Null when nothing is logged, so the connection server skips logging altogether. */
  static create(settings: Settings): AccessLog | null {
    const specs = [settings.accessLogs, ...settings.virtualHosts.map((h) => h.accessLogs)];
    if (specs.every((list) => list.length === 0)) return null;
    const writers = new Map<string, LogWriter>();
    const formats = new Map<string, { line: LineFormat; usesServerName: boolean }>();
    let usesServerName = false;
    const compile = (list: AccessLogSpec[]): CompiledLog[] =>
      list.map((spec) => {
        let writer = writers.get(spec.target);
        if (!writer) {
          writer = new LogWriter(descriptor(settings, spec.target), spec.target);
          writers.set(spec.target, writer);
        }
        const key = spec.format.kind === 'json' ? '' : spec.format.text;
        let format = formats.get(key);
        if (!format) {
          format = spec.format.kind === 'json' ? { line: jsonFormat(), usesServerName: true } : compileLogFormat(spec.format.text);
          formats.set(key, format);
        }
        usesServerName ||= format.usesServerName;
        return { writer, line: format.line };
      });
    const hosts: HostLogs[] = [
      { serverName: canonicalName(settings.serverName), logs: compile(settings.accessLogs) },
      ...settings.virtualHosts.map((h) => ({ serverName: canonicalName(h.serverName ?? settings.serverName), logs: compile(h.accessLogs) })),
    ];
    const own = JSON.stringify(settings.accessLogs);
    const differ = settings.virtualHosts.some((h) => JSON.stringify(h.accessLogs) !== own);
    const pick = settings.virtualHosts.length > 0 && (differ || usesServerName);
    return new AccessLog(pick ? settings : null, hosts, [...writers.values()]);
  }

  /** A request whose response has ended (or whose connection broke), on its connection's
   * socket (req.socket may be gone by then: undici lets go of a request body it has sent). */
  request(socket: net.Socket, req: http.IncomingMessage, res: http.ServerResponse, durationUs: number, bytesOut: number): void {
    const host = this.hostOf(socket, req.headers.host);
    if (host.logs.length === 0) return;
    const x: Exchange = {
      req,
      res,
      socket,
      status: res.statusCode,
      startMs: Date.now() - durationUs / 1000,
      durationUs,
      bytesOut,
      // The server is created with CountedResponse whenever there is an access log.
      bodyBytes: (res as CountedResponse).bodyBytes,
      serverName: host.serverName,
      connection: res.writableFinished ? (res.shouldKeepAlive ? '+' : '-') : 'X',
    };
    write(host, x);
  }

  /** A request Node's parser refused and the server answered itself (400, 408, 431). */
  refused(socket: net.Socket, status: number, bytesOut: number): void {
    const host = this.hostOf(socket, undefined);
    write(host, { req: null, res: null, socket, status, startMs: Date.now(), durationUs: 0, bytesOut, bodyBytes: 0, serverName: host.serverName, connection: '-' });
  }

  /** Writes out what is buffered; resolves when it is written (end of a drain or a stop). */
  async close(): Promise<void> {
    // Connections cut by a stop end their responses on the next ticks: their lines first.
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all(this.writers.map((w) => w.close()));
  }

  private hostOf(socket: net.Socket, hostHeader: string | undefined): HostLogs {
    if (this.hostPicker === null) return this.hosts[0];
    return this.hosts[hostIndexFor(this.hostPicker, socket.localAddress, socket.localPort, hostHeader)];
  }
}

function write(host: HostLogs, x: Exchange): void {
  for (const l of host.logs) l.writer.write(l.line(x));
}


/** The descriptor the master opened for this CustomLog file (or its stderr), or, in a process
 * that no master started (-X), one opened here. */
function descriptor(settings: Settings, target: string): number {
  const files = settings.accessLogFiles;
  if (files === undefined) return target === 'stderr' ? 2 : fs.openSync(target, 'a', 0o644);
  const fd = files[target];
  if (fd === undefined) throw new Error(`the master handed down no descriptor for CustomLog ${target}`);
  return fd;
}
