// The IPC server of one serving event loop: Node's HTTP/1.1 server on a Unix domain socket in
// the runtime directory, where other children (and other threads of this child) send the
// requests of the state-aware sessions this loop owns. It starts with the loop's first session,
// as the seed's gateway starts its listening service, and is removed when the loop ends.
// Requests and responses stream both ways with Node's own backpressure.
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import type { RequestHandler } from '../child/handler';
import { log, logs } from '../log/logger';
import { setClientOrigin } from '../proxy/client-origin';
import { answerPlain } from '../proxy/plain-answer';
import { takeOrigin } from './wire';

/** Relayed requests stay open between routes: the relaying child keeps a few connections per owner. */
const IPC_KEEP_ALIVE_MS = 60_000;

export class IpcServer {
  private server: http.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly path: string,
    private readonly handler: RequestHandler,
    private readonly headersTimeoutMs: number,
  ) {}

  get listening(): boolean {
    return this.server !== null;
  }

  /** Binds the socket now. */
  listen(): void {
    if (this.server !== null) return;
    fs.rmSync(this.path, { force: true });
    const server = http.createServer({ keepAliveTimeout: IPC_KEEP_ALIVE_MS, headersTimeout: this.headersTimeoutMs, requestTimeout: 0 }, (req, res) => {
      const origin = takeOrigin(req);
      if (origin === null) {
        log('proxy').error({ path: this.path }, 'IPC request without its client origin refused');
        answerPlain(res, 400);
        return;
      }
      setClientOrigin(req, origin);
      this.handler(req, res);
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('error', (err) => log('proxy').error({ path: this.path, err: err.message }, `IPC server on ${this.path} failed`));
    // A Unix socket binds before listen() returns (outside a cluster): the owner records its
    // ownership right after, and the first relayed request may come at once.
    server.listen(this.path);
    // Only the server's own processes (the same user) may send requests here.
    fs.chmodSync(this.path, 0o600);
    this.server = server;
    if (logs('proxy', 'debug')) {
      log('proxy').debug({ pid: process.pid, path: this.path }, `IPC server: process id ${process.pid} listening on domain socket ${this.path}`);
    }
  }

  /** Stops listening, lets the answers in flight finish (at most `boundMs`), then closes. */
  close(boundMs = 0): Promise<void> {
    const server = this.server;
    if (server === null) return Promise.resolve();
    this.server = null;
    fs.rmSync(this.path, { force: true });
    return new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        for (const socket of this.sockets) socket.destroy();
      }, boundMs);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}
