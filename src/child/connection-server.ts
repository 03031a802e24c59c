// The serving loop shared by every MPM: accept on the inherited listeners, run HTTP/1.1 over
// each connection, keep the scoreboard true, and drain gracefully.
//
// The MPMs differ only in two choices passed in here:
//  - `mode`: 'connection' (prefork, worker) — a connection holds one scoreboard slot for its
//    whole life, keep-alive included; 'request' (event) — a request holds a slot, an idle
//    keep-alive connection holds none.
//  - `mayAccept()`: when this acceptor may take another connection.
import http from 'node:http';
import type net from 'node:net';
import type { ListenSpec, Settings } from '../config/types';
import { log, logs } from '../log/logger';
import type { Scoreboard } from '../shm/scoreboard';
import { WorkerState } from '../shm/scoreboard';
import { Acceptor } from './acceptor';
import type { ConnectionBudget } from './connection-budget';
import { RequestSlots } from './request-slots';
import type { RequestHandler } from './handler';

export interface InheritedListener {
  fd: number;
  spec: ListenSpec;
}

export interface ConnectionServerOptions {
  settings: Settings;
  listeners: InheritedListener[];
  scoreboard: Scoreboard;
  processSlot: number;
  mode: 'connection' | 'request';
  /** Scoreboard worker slots this server drives: one for 'connection' mode, ThreadsPerChild for 'request'. */
  workerSlots: number[];
  budget: ConnectionBudget;
  handler: RequestHandler;
  /** MPM-specific condition on top of the server's own (draining, budget, one connection). */
  mayAccept: (server: ConnectionServer) => boolean;
  /** Called once the connection budget is spent and every connection has ended. */
  onRetired: () => void;
}

interface Conn {
  socket: net.Socket;
  active: number;
  /** Requests seen on this connection, for MaxKeepAliveRequests. */
  requests: number;
  /** Served a request and waits for the next one (Apache's keep-alive state). */
  idle: boolean;
  /** Responses not yet sent, so a graceful drain can turn them into Connection: close. */
  responses: Set<http.ServerResponse>;
  lingerTimer: NodeJS.Timeout | null;
}

/** How long a graceful drain keeps an idle keep-alive connection open for a request already on
 * its way, so a client that just sent one gets an answer (with Connection: close) instead of a
 * reset. */
const GRACEFUL_LINGER_MS = 300;

export class ConnectionServer {
  readonly http: http.Server;
  private readonly acceptors: Acceptor[];
  private readonly slots: RequestSlots;
  private readonly conns = new Map<net.Socket, Conn>();
  private connectionSlot: number;
  private draining = false;
  private retiring = false;
  private drainResolve: (() => void) | null = null;
  private gatePoll: NodeJS.Timeout | null = null;
  private holdsTicket = false;

  constructor(private readonly o: ConnectionServerOptions) {
    const s = o.settings;
    this.http = http.createServer({
      keepAliveTimeout: s.keepAlive ? s.keepAliveTimeout : 0,
      headersTimeout: s.timeout,
      requestTimeout: 0,
      noDelay: true,
      // Node enforces headersTimeout only on this tick (30 s by default).
      connectionsCheckingInterval: 1000,
    });
    // Connections come from our acceptors, so the http server never listens itself; its
    // 'listening' handler is what starts Node's timeout tracking of those connections.
    this.http.emit('listening');
    // For the Keep-Alive: timeout=N, max=M header; closing after the last one is done below.
    this.http.maxRequestsPerSocket = s.keepAlive ? s.maxKeepAliveRequests : 0;
    this.http.on('request', (req, res) => this.onRequest(req, res));
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
    this.acceptors = o.listeners.map(
      (l) => new Acceptor(l.fd, s.listenBacklog, (socket) => this.onConnection(socket), (err) => this.onAcceptError(l, err)),
    );
    this.slots = new RequestSlots(o.mode === 'request' ? o.workerSlots.length : 0);
    this.connectionSlot = o.workerSlots[0];
    for (const t of o.workerSlots) o.scoreboard.setWorkerState(o.processSlot, t, WorkerState.READY);
  }

  get connections(): number {
    return this.conns.size;
  }

  get idleSlots(): number {
    return this.o.mode === 'request' ? this.slots.idle : this.conns.size === 0 ? 1 : 0;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  start(): void {
    this.updateAccepting();
  }

  /** Stops accepting and resolves when every connection has ended (or `GracefulShutdownTimeout`). */
  graceful(): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      this.setAccepting(false);
      this.o.scoreboard.setQuiescing(this.o.processSlot, true);
      for (const t of this.o.workerSlots) {
        if (this.o.scoreboard.workerState(this.o.processSlot, t) === WorkerState.READY) {
          this.o.scoreboard.setWorkerState(this.o.processSlot, t, WorkerState.GRACEFUL);
        }
      }
      for (const c of this.conns.values()) this.drainConnection(c);
      const limit = setTimeout(() => this.closeAll('GracefulShutdownTimeout'), this.o.settings.gracefulShutdownTimeout);
      limit.unref();
    }
    return new Promise((resolve) => {
      if (this.conns.size === 0) resolve();
      else this.drainResolve = resolve;
    });
  }

  /** Ends every connection now (stop, or the end of a bounded drain). */
  closeAll(reason: string): void {
    this.draining = true;
    this.setAccepting(false);
    if (this.conns.size > 0) log('child').warn({ connections: this.conns.size, reason }, 'closing connections still open');
    for (const c of this.conns.values()) c.socket.destroy();
  }

  private onConnection(socket: net.Socket): void {
    const o = this.o;
    const c: Conn = { socket, active: 0, requests: 0, idle: false, responses: new Set(), lingerTimer: null };
    this.holdsTicket = false;
    this.conns.set(socket, c);
    o.scoreboard.addConnections(o.processSlot, 1);
    o.scoreboard.incrementConnectionsTotal(o.processSlot);
    if (o.mode === 'connection') {
      o.scoreboard.setWorkerState(o.processSlot, this.connectionSlot, WorkerState.BUSY_READ);
    }
    socket.once('close', () => this.onConnectionClose(c));
    this.updateAccepting();
    this.http.emit('connection', socket);
  }

  private onConnectionClose(c: Conn): void {
    const o = this.o;
    if (c.lingerTimer) clearTimeout(c.lingerTimer);
    this.conns.delete(c.socket);
    o.scoreboard.addConnections(o.processSlot, -1);
    this.markIdle(c, false);
    if (o.mode === 'connection') {
      o.scoreboard.setWorkerState(o.processSlot, this.connectionSlot, this.draining ? WorkerState.GRACEFUL : WorkerState.READY);
    }
    if (this.conns.size === 0 && this.drainResolve) {
      const resolve = this.drainResolve;
      this.drainResolve = null;
      resolve();
      return;
    }
    this.updateAccepting();
  }

  private markIdle(c: Conn, idle: boolean): void {
    if (c.idle === idle) return;
    c.idle = idle;
    this.o.scoreboard.addKeepAliveIdle(this.o.processSlot, idle ? 1 : -1);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const c = this.conns.get(req.socket);
    if (!c) {
      // A socket not accepted here (cannot happen with our acceptors); serve it without accounting.
      this.o.handler(req, res);
      return;
    }
    c.active++;
    c.requests++;
    this.markIdle(c, false);
    if (c.lingerTimer) {
      clearTimeout(c.lingerTimer);
      c.lingerTimer = null;
    }
    c.responses.add(res);
    // MaxKeepAliveRequests: the last request allowed on a connection is answered with
    // Connection: close, and Node then closes the socket once the response is sent.
    const s = this.o.settings;
    if (this.draining || !s.keepAlive || (s.maxKeepAliveRequests > 0 && c.requests >= s.maxKeepAliveRequests)) {
      res.shouldKeepAlive = false;
    }
    const started = process.hrtime.bigint();
    const bytesBefore = req.socket.bytesWritten;
    if (this.o.mode === 'connection') {
      this.runRequest(c, req, res, this.connectionSlot, started, bytesBefore);
      return;
    }
    const grant = (slot: number) => this.runRequest(c, req, res, slot, started, bytesBefore);
    this.slots.acquire(grant, this.o.settings.timeout, () => this.rejectBusy(c, res));
    res.once('close', () => this.slots.cancel(grant));
  }

  private runRequest(
    c: Conn,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    slot: number,
    started: bigint,
    bytesBefore: number,
  ): void {
    const o = this.o;
    o.scoreboard.setWorkerState(o.processSlot, slot, WorkerState.BUSY_WRITE);
    o.scoreboard.addBusy(o.processSlot, 1);
    res.once('close', () => {
      const bytes = req.socket.bytesWritten - bytesBefore;
      const durationUs = Number((process.hrtime.bigint() - started) / 1000n);
      o.scoreboard.recordRequest(o.processSlot, slot, {
        client: req.socket.remoteAddress ?? '',
        request: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
        bytes,
        durationUs,
        at: Date.now() - durationUs / 1000,
      });
      o.scoreboard.addRequest(o.processSlot, bytes);
      this.finishRequest(c, res, slot);
    });
    o.handler(req, res);
  }

  private finishRequest(c: Conn, res: http.ServerResponse, slot: number): void {
    const o = this.o;
    o.scoreboard.addBusy(o.processSlot, -1);
    c.active--;
    c.responses.delete(res);
    const open = this.conns.has(c.socket) && !c.socket.destroyed;
    if (o.mode === 'request') {
      o.scoreboard.setWorkerState(o.processSlot, slot, this.draining ? WorkerState.GRACEFUL : WorkerState.READY);
      this.slots.release(slot);
    } else if (open) {
      o.scoreboard.setWorkerState(o.processSlot, slot, WorkerState.BUSY_KEEPALIVE);
    }
    if (c.active === 0 && open) {
      this.markIdle(c, true);
      if (this.draining) this.drainConnection(c);
    }
    this.updateAccepting();
  }

  private rejectBusy(c: Conn, res: http.ServerResponse): void {
    log('mpm').error(
      { timeout: this.o.settings.timeout },
      'request waited longer than Timeout for a free request slot (ThreadsPerChild); answering 503',
    );
    res.shouldKeepAlive = false;
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('503 Service Unavailable: the server is at capacity\n');
    c.responses.delete(res);
    c.active--;
  }

  private drainConnection(c: Conn): void {
    for (const res of c.responses) if (!res.headersSent) res.shouldKeepAlive = false;
    if (c.active > 0 || c.lingerTimer) return;
    c.lingerTimer = setTimeout(() => c.socket.destroy(), GRACEFUL_LINGER_MS);
    c.lingerTimer.unref();
  }

  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (logs('child', 'debug')) log('child').debug({ err: err.code ?? err.message }, 'client connection error');
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = http.STATUS_CODES[status] ?? 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  private onAcceptError(l: InheritedListener, err: Error): void {
    log('child').error({ listen: l.spec.text, err: err.message }, 'accept failed; retrying in 100 ms');
  }

  /** Re-evaluates whether to accept; called after every event that can change the answer. */
  updateAccepting(): void {
    if (this.draining) return;
    const free = this.o.mode === 'request' || this.conns.size === 0;
    if (free && !this.retiring && !this.holdsTicket) {
      // One connection of the MaxConnectionsPerChild budget is taken before the acceptor opens,
      // so threads sharing a budget never accept more than it allows between them.
      if (this.o.budget.take()) this.holdsTicket = true;
      else this.retiring = true;
    }
    if (this.retiring) {
      this.setAccepting(false);
      this.o.scoreboard.setQuiescing(this.o.processSlot, true);
      if (this.conns.size === 0) {
        this.draining = true;
        this.o.onRetired();
      }
      return;
    }
    const want = free && this.o.mayAccept(this);
    this.setAccepting(want);
    // The MPM's condition may depend on other children (fair share): look again shortly.
    if (free && !want && !this.gatePoll) {
      this.gatePoll = setTimeout(() => {
        this.gatePoll = null;
        this.updateAccepting();
      }, 5);
    }
  }

  private setAccepting(on: boolean): void {
    for (const a of this.acceptors) {
      if (on) a.resume();
      else a.pause();
    }
    this.o.scoreboard.setAccepting(this.o.processSlot, on);
  }
}
