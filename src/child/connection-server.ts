// The serving loop shared by every MPM: accept on the inherited listeners, run HTTP/1.1 (or
// HTTP/2, see src/http2/) over each connection, hand WebSocket upgrades to the proxy path, keep
// the scoreboard true, and drain gracefully.
//
// The MPMs differ only in two choices passed in here:
//  - `mode`: 'connection' (prefork, worker) — a connection holds one scoreboard slot for its
//    whole life, keep-alive included; 'request' (event) — a request holds a slot, an idle
//    keep-alive connection holds none.
//  - `mayAccept()`: when this acceptor may take another connection.
import http from 'node:http';
import type { ServerHttp2Session } from 'node:http2';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenSpec, Settings } from '../config/types';
import type { AccessLog } from '../log/access-log';
import { CountedResponse } from '../log/counted-response';
import { REFUSED, type LoopLimits } from '../limits/loop-limits';
import { log, logs } from '../log/logger';
import { H2Front } from '../http2/h2-front';
import { wantsH2c } from '../http2/h2c-upgrade';
import { peekPreface, sniffPreface } from '../http2/preface';
import { abandonExchange } from '../proxy/exchange';
import { logRefusal, parseRefusal, refusalHead } from '../proxy/framing';
import type { RequestRecord, Scoreboard } from '../shm/scoreboard';
import { WorkerState } from '../shm/scoreboard';
import { GOING_AWAY, type WebSocketTunnels } from '../websocket/tunnels';
import { Acceptor, type ConnectionAcceptor } from './acceptor';
import { DirectAcceptor } from './direct-acceptor';
import type { ConnectionBudget } from './connection-budget';
import { RequestSlots, type SlotGrant } from './request-slots';
import type { RequestHandler } from './handler';
import type { TlsTerminator } from '../tls/terminator';
import { HANDED_OFF, INCOMPLETE, type ConnectionHandoff } from '../stateaware/connection-handoff';

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
  /** The sandbox limits: connections counted and refused at accept, read timeouts, requests per client. */
  limits: LoopLimits;
  /** Null when no CustomLog or TransferLog is configured. */
  accessLog: AccessLog | null;
  /** Terminates TLS on the https listeners; null when there are none. */
  tls: TlsTerminator | null;
  /** Hands new plain connections of sessions owned elsewhere to their owner; null without
   * sessions. */
  handoff: ConnectionHandoff | null;
  /** Whether a draining loop still owns state-aware sessions: the connections handed over for
   * them then stay open for their next requests. */
  holdsSessions: () => boolean;
  /** MPM-specific condition on top of the server's own (draining, budget, one connection). */
  mayAccept: (server: ConnectionServer) => boolean;
  /** Called once the connection budget is spent and every connection has ended. */
  onRetired: () => void;
  /** The loop's WebSocket tunnels: connections that left HTTP for good. */
  tunnels: WebSocketTunnels;
}

interface Conn {
  socket: net.Socket;
  /** The connection's index in the loop's limits (LoopLimits.admit). */
  client: number;
  active: number;
  /** Requests seen on this connection, for MaxKeepAliveRequests. */
  requests: number;
  /** Served a request and waits for the next one (Apache's keep-alive state). */
  idle: boolean;
  /** Date.now() when it last became idle. */
  idleSince: number;
  /** socket.bytesWritten when the last request's bytes were counted. */
  bytesCounted: number;
  /** Responses not yet sent, so a graceful drain can turn them into Connection: close. */
  responses: Set<http.ServerResponse>;
  /** An idle HTTP/1.1 connection's grace in a graceful drain; an HTTP/2 connection's KeepAliveTimeout. */
  lingerTimer: NodeJS.Timeout | null;
  /** Set once the connection speaks HTTP/2. */
  session: ServerHttp2Session | null;
  /** Handed over by another child (adopt). */
  adopted: boolean;
}

/** How long a graceful drain keeps an idle keep-alive connection open for a request already on
 * its way, so a client that just sent one gets an answer (with Connection: close) instead of a
 * reset. */
const GRACEFUL_LINGER_MS = 300;

function tcpKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localPort}`;
}

function usSince(started: bigint): number {
  return Number((process.hrtime.bigint() - started) / 1000n);
}

/** RequestRun.slot of a request waiting for a request slot (event MPM). */
const WAITING = -1;
/** RequestRun.slot of a request answered 503 because it waited longer than Timeout. */
const REJECTED = -2;

const kRun = Symbol('run');
type RunResponse = http.ServerResponse & { [kRun]?: RequestRun };

/** One request from its headers to the end of its response: what its accounting needs, in one
 * object rather than in closures of its own. */
class RequestRun {
  /** The scoreboard worker slot it holds, or WAITING or REJECTED. */
  slot = WAITING;
  /** Let in by LimitRequestsPerClient, so it must be let out. */
  entered = false;
  /** Its place in the queue for a request slot while it waits for one. */
  grant: SlotGrant | null = null;

  constructor(
    readonly server: ConnectionServer,
    readonly c: Conn,
    readonly req: http.IncomingMessage,
    readonly res: RunResponse,
    readonly started: bigint,
  ) {}
}

export class ConnectionServer {
  readonly http: http.Server;
  /** With Protocols h2 or h2c: HTTP/2 for the connections that ask for it. */
  private readonly h2: H2Front | null;
  private readonly acceptors: ConnectionAcceptor[];
  private readonly slots: RequestSlots;
  private readonly conns = new Map<net.Socket, Conn>();
  /** Connections in their TLS handshake, by their TCP endpoints (which the TLS socket made of
   * the TCP one shares). */
  private readonly handshaking = new Map<string, Conn>();
  private connectionSlot: number;
  private draining = false;
  private retiring = false;
  private drainResolve: (() => void) | null = null;
  private gatePoll: NodeJS.Timeout | null = null;
  private holdsTicket = false;
  /** What setAccepting last decided. */
  private accepting = false;
  /** Refilled for every request: the scoreboard copies it and keeps nothing. */
  private readonly record: RequestRecord = { client: '', request: '', bytes: 0, durationUs: 0, at: 0 };

  constructor(private readonly o: ConnectionServerOptions) {
    const s = o.settings;
    this.http = http.createServer({
      ...o.limits.httpOptions,
      // Counts body bytes for the access log's %b; plain responses cost nothing when nothing is logged.
      ServerResponse: o.accessLog ? CountedResponse : http.ServerResponse,
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
    if (o.limits.maxHeadersCount > 0) this.http.maxHeadersCount = o.limits.maxHeadersCount;
    // For the Keep-Alive: timeout=N, max=M header; closing after the last one is done below.
    this.http.maxRequestsPerSocket = s.keepAlive ? s.maxKeepAliveRequests : 0;
    this.http.on('request', (req, res) => this.onRequest(req, res));
    // With a listener Node leaves Expect: 100-continue to the handler, which answers it only
    // once the request is on its way to a backend.
    this.http.on('checkContinue', (req, res) => this.onRequest(req, res));
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.h2 = s.protocols.h2c || s.protocols.h2
      ? new H2Front({
          settings: s,
          limits: o.limits,
          countBodies: o.accessLog !== null,
          onRequest: (req, res) => this.onRequest(req, res),
          onSession: (socket, session) => this.onSession(socket, session),
        })
      : null;
    this.acceptors = o.listeners.map((l) => {
      const onError = (err: Error): void => this.onAcceptError(l, err);
      // With sessions, where a plain connection is served is decided before it has a Node socket.
      if (o.handoff !== null && l.spec.protocol !== 'https') return new DirectAcceptor(l.fd, (fd, head) => this.onAccepted(fd, head, l), onError);
      return new Acceptor(l.fd, s.listenBacklog, (socket) => this.onConnection(socket, l), onError, o.limits.socketOptions);
    });
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

  /** Stops accepting and resolves when every connection has ended (or ExitTimeout, see Settings.exitTimeout). */
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
      const s = this.o.settings;
      // Named after the directive that set the bound, for the log line.
      const bound = s.exitTimeout === s.gracefulShutdownTimeout ? 'GracefulShutdownTimeout' : 'ExitTimeout';
      const limit = setTimeout(() => this.closeAll(bound, true), s.exitTimeout);
      limit.unref();
    }
    // Called again once the loop's sessions have ended: the connections kept for them drain now.
    for (const c of this.conns.values()) if (!this.keepsOpen(c)) this.drainConnection(c);
    return new Promise((resolve) => {
      if (this.conns.size === 0) resolve();
      else this.drainResolve = resolve;
    });
  }

  /** Ends every connection now (stop, or the end of a bounded drain, which spares the
   * connections kept for the loop's state-aware sessions: their bound is the sessions'). */
  closeAll(reason: string, spareKept = false): void {
    this.draining = true;
    this.setAccepting(false);
    const closing = [...this.conns.values()].filter((c) => !(spareKept && this.keepsOpen(c)));
    if (closing.length > 0) log('child').warn({ connections: closing.length, reason }, 'closing connections still open');
    const tunnels = this.o.tunnels;
    if (tunnels.size > 0) log('proxy_wstunnel').info({ webSockets: tunnels.size, reason }, 'closing WebSockets with 1001 (going away)');
    const goingAway = reason === 'stop' ? 'server stopping' : 'server restarting';
    for (const c of closing) if (!tunnels.close(c.socket, GOING_AWAY, goingAway)) c.socket.destroy();
  }

  /** A connection handed over for a session this draining loop still owns stays open. */
  private keepsOpen(c: Conn): boolean {
    return c.adopted && this.o.holdsSessions();
  }

  /** The memory redline: ends the keep-alive connections that have waited `idleMs` for their next
   * request, as KeepAliveTimeout would, after the graceful drain's grace for a request already on
   * its way (one that comes keeps its connection). Returns how many are closing. */
  closeIdle(idleMs: number): number {
    const now = Date.now();
    let closing = 0;
    for (const c of this.conns.values()) {
      if (!c.idle || now - c.idleSince < idleMs) continue;
      this.drainConnection(c);
      closing++;
    }
    return closing;
  }

  /** A plain connection another child handed over (docs/state-aware.md), with the bytes it
   * read from it: served and counted here as if accepted here. */
  adopt(fd: number, head: Buffer): void {
    this.onConnection(this.socketOf(fd, head), null);
  }

  /** A plain connection a DirectAcceptor took (sessions on), with what it has sent so far. One
   * for a state-aware session another child owns is that child's to count and limit: it goes
   * before anything is counted here (but it took this child's ticket). */
  private onAccepted(fd: number, head: Buffer, l: InheritedListener): void {
    const o = this.o;
    const at = (o.handoff as ConnectionHandoff).atAccept(fd, head);
    if (at === HANDED_OFF) {
      this.holdsTicket = false;
      o.scoreboard.incrementConnectionsTotal(o.processSlot);
      this.updateAccepting();
      return;
    }
    if (at === INCOMPLETE) this.onConnection(this.socketOf(fd, null), l, head);
    else this.onConnection(this.socketOf(fd, head), l);
  }

  /** A Node socket for a descriptor this process took, `head` (what was read from it) first. */
  private socketOf(fd: number, head: Buffer | null): net.Socket {
    const socket = new net.Socket({ fd, readable: true, writable: true, ...this.o.limits.socketOptions });
    if (head !== null && head.length > 0) socket.unshift(head);
    return socket;
  }

  /** `l`: the listener that accepted it; null for an adopted connection. `first`: the start of
   * a first header block not yet complete, which the hand-off reads on from. */
  private onConnection(socket: net.Socket, l: InheritedListener | null, first: Buffer | null = null): void {
    const o = this.o;
    const tls = l?.spec.protocol === 'https' ? o.tls : null;
    const client = o.limits.admit(socket);
    if (client === REFUSED) {
      this.updateAccepting();
      return;
    }
    const c: Conn = {
      socket,
      client,
      active: 0,
      requests: 0,
      idle: false,
      idleSince: 0,
      bytesCounted: 0,
      responses: new Set(),
      lingerTimer: null,
      session: null,
      adopted: l === null,
    };
    // An adopted connection was accepted, and paid for, by the child that handed it over.
    if (l !== null) this.holdsTicket = false;
    this.conns.set(socket, c);
    o.scoreboard.addConnections(o.processSlot, 1);
    o.scoreboard.incrementConnectionsTotal(o.processSlot);
    if (o.mode === 'connection') {
      o.scoreboard.setWorkerState(o.processSlot, this.connectionSlot, WorkerState.BUSY_READ);
    }
    socket.once('close', () => this.onConnectionClose(c));
    this.updateAccepting();
    if (tls !== null) {
      this.handshaking.set(tcpKey(socket), c);
      tls.accept(socket);
      return;
    }
    // A connection handed over by another child carries an HTTP/1.x request (checked there).
    if (l === null) {
      this.http.emit('connection', socket);
      return;
    }
    if (first !== null && o.handoff !== null) o.handoff.peek(socket, first, () => this.servePlain(socket));
    else this.servePlain(socket);
  }

  /** A cleartext connection kept here: HTTP/1.x, or HTTP/2 by prior knowledge (h2c). */
  private servePlain(socket: net.Socket): void {
    const h2 = this.h2;
    if (h2 === null || !this.o.settings.protocols.h2c) {
      this.http.emit('connection', socket);
      return;
    }
    // Bytes already read (the state-aware hand-off looked at them) come first: the kernel's queue
    // then holds what follows them, not the start of the connection.
    const queued = socket.readableLength > 0 ? null : peekPreface(socket);
    if (queued !== null) {
      if (queued) h2.serveNative(socket);
      else this.http.emit('connection', socket);
      return;
    }
    sniffPreface(socket, (isH2, head) => {
      if (isH2) return h2.serve(socket, head);
      socket.unshift(head);
      this.http.emit('connection', socket);
      socket.resume();
    });
  }

  /** From the handshake on, the connection is its TLS socket: what requests arrive on, what
   * bytes are counted on. The TCP socket's close still ends it. */
  onSecure(secure: net.Socket): void {
    const key = tcpKey(secure);
    const c = this.handshaking.get(key);
    this.handshaking.delete(key);
    if (c === undefined || !this.conns.has(c.socket)) {
      secure.destroy();
      return;
    }
    this.conns.delete(c.socket);
    c.socket = secure;
    this.conns.set(secure, c);
    // ALPN chose the protocol during the handshake (Protocols h2).
    if (this.h2 !== null && (secure as TLSSocket).alpnProtocol === 'h2') this.h2.serveNative(secure);
    else this.http.emit('connection', secure);
  }

  /** The connection no longer speaks HTTP/1.1 (HTTP/2, or a WebSocket tunnel). */
  leftHttp1(socket: net.Socket): void {
    const c = this.conns.get(socket);
    if (c !== undefined) this.o.limits.leaveHttp1(c.client);
  }

  private onSession(socket: net.Socket, session: ServerHttp2Session): void {
    const c = this.conns.get(socket);
    if (c === undefined) {
      session.destroy();
      return;
    }
    c.session = session;
    this.leftHttp1(socket);
    if (this.draining) session.close();
    else this.awaitStream(c, session);
  }

  /** KeepAliveTimeout bounds an HTTP/2 connection without streams, as mod_http2 does (Timeout
   * with KeepAlive Off): GOAWAY once it has passed; the next stream stops the timer (onRequest). */
  private awaitStream(c: Conn, session: ServerHttp2Session): void {
    if (c.lingerTimer) clearTimeout(c.lingerTimer);
    const s = this.o.settings;
    c.lingerTimer = setTimeout(() => session.close(), s.keepAlive ? s.keepAliveTimeout : s.timeout);
    c.lingerTimer.unref();
  }

  /** A request Node's parser handed over as an upgrade: h2c is taken up here, and the rest
   * (WebSocket handshakes, other protocols) run as requests over the detached socket, with
   * Connection: close; the proxy path opens a tunnel when a backend switches to websocket. */
  private onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    // h2c is cleartext only (RFC 7540 §3.2): over TLS, HTTP/2 is chosen by ALPN or not at all.
    const h2c = this.h2 !== null && this.o.settings.protocols.h2c && (socket as TLSSocket).encrypted !== true;
    if (h2c && wantsH2c(req) && this.h2.upgrade(req, socket, head)) return;
    if (head.length > 0) socket.unshift(head);
    const res = new (this.o.accessLog ? CountedResponse : http.ServerResponse)(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => socket.destroySoon());
    this.onRequest(req, res);
  }

  private onConnectionClose(c: Conn): void {
    const o = this.o;
    if (o.tls) this.handshaking.delete(tcpKey(c.socket));
    if (c.lingerTimer) clearTimeout(c.lingerTimer);
    this.conns.delete(c.socket);
    o.limits.release(c.client);
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
    if (idle) c.idleSince = Date.now();
    this.o.scoreboard.addKeepAliveIdle(this.o.processSlot, idle ? 1 : -1);
    if (idle) this.o.limits.idle(c.client);
  }

  /** The 'close' listener of every response, shared: no closure per request. */
  private static onResponseClose(this: RunResponse): void {
    const run = this[kRun];
    if (run !== undefined) run.server.responseClosed(run);
  }

  private onRequest(req: http.IncomingMessage, res: RunResponse): void {
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
    this.o.limits.headersRead(c.client, req);
    // MaxKeepAliveRequests (or a smaller LimitKeepAlive): the last request allowed on a connection
    // is answered with Connection: close, and Node then closes the socket once it is sent.
    const s = this.o.settings;
    const last = s.maxKeepAliveRequests > 0 && c.requests >= s.maxKeepAliveRequests;
    if (last) this.o.limits.lastRequest(req);
    if ((this.draining && !this.keepsOpen(c)) || !s.keepAlive || last) res.shouldKeepAlive = false;
    const run = new RequestRun(this, c, req, res, process.hrtime.bigint());
    res[kRun] = run;
    res.on('close', ConnectionServer.onResponseClose);
    const slot = this.o.mode === 'connection' ? this.connectionSlot : this.slots.take();
    if (slot !== undefined) {
      this.runRequest(run, slot);
      return;
    }
    run.grant = (granted) => {
      run.grant = null;
      this.runRequest(run, granted);
    };
    this.slots.wait(run.grant, s.timeout, () => this.rejectBusy(run));
  }

  private runRequest(run: RequestRun, slot: number): void {
    const o = this.o;
    run.slot = slot;
    o.scoreboard.setWorkerState(o.processSlot, slot, WorkerState.BUSY_WRITE);
    o.scoreboard.addBusy(o.processSlot, 1);
    run.entered = o.limits.enterRequest(run.c.client, run.req, run.res);
    (run.entered ? o.handler : o.limits.refuse)(run.req, run.res);
  }

  private responseClosed(run: RequestRun): void {
    const { c, req, res } = run;
    if (run.slot === WAITING) {
      // The client went away while its request waited for a slot.
      if (run.grant) this.slots.cancel(run.grant);
      return;
    }
    const o = this.o;
    const durationUs = usSince(run.started);
    const bytes = ConnectionServer.bytesSince(c);
    if (run.slot === REJECTED) {
      o.accessLog?.request(c.socket, req, res, durationUs, bytes);
      return;
    }
    if (run.entered) o.limits.leaveRequest(c.client);
    const r = this.record;
    r.client = c.socket.remoteAddress ?? '';
    r.request = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
    r.bytes = bytes;
    r.durationUs = durationUs;
    r.at = Date.now() - durationUs / 1000;
    o.scoreboard.recordRequest(o.processSlot, run.slot, r);
    o.scoreboard.addRequest(o.processSlot, bytes);
    o.accessLog?.request(c.socket, req, res, durationUs, bytes);
    this.finishRequest(c, res, run.slot);
  }

  /** What the connection has written since the last request was counted: this request's answer.
   * Read on the connection's own socket (undici detaches req.socket once it has sent a body). */
  private static bytesSince(c: Conn): number {
    const total = c.socket.bytesWritten;
    const bytes = total - c.bytesCounted;
    c.bytesCounted = total;
    return bytes;
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
    if (c.active === 0 && open && !o.tunnels.has(c.socket)) {
      this.markIdle(c, true);
      if (this.draining && !this.keepsOpen(c)) this.drainConnection(c);
      else if (c.session !== null) this.awaitStream(c, c.session);
    }
    // A finished request never holds the number of connections up: it can only let an acceptor
    // that is off open again (the next connection or close looks at the rest).
    if (!this.accepting) this.updateAccepting();
  }

  private rejectBusy(run: RequestRun): void {
    log('mpm').error(
      { timeout: this.o.settings.timeout },
      'request waited longer than Timeout for a free request slot (ThreadsPerChild); answering 503',
    );
    const { c, res } = run;
    run.slot = REJECTED;
    run.grant = null;
    res.shouldKeepAlive = false;
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('503 Service Unavailable: the server is at capacity\n');
    c.responses.delete(res);
    c.active--;
  }

  private drainConnection(c: Conn): void {
    // HTTP/2: GOAWAY, the streams under way finish. A WebSocket is closed when the drain ends.
    if (c.session !== null) {
      c.session.close();
      return;
    }
    if (this.o.tunnels.has(c.socket)) return;
    for (const res of c.responses) if (!res.headersSent) res.shouldKeepAlive = false;
    if (c.active > 0 || c.lingerTimer) return;
    c.lingerTimer = setTimeout(() => c.socket.destroy(), GRACEFUL_LINGER_MS);
    c.lingerTimer.unref();
  }

  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (logs('child', 'debug')) log('child').debug({ err: err.code ?? err.message }, 'client connection error');
    // A request of this connection may be on its way to a backend: it goes no further. When the
    // fault came in the packet that brought its headers, the backend has seen nothing of it.
    let answering = false;
    for (const res of this.conns.get(socket)?.responses ?? []) {
      abandonExchange(res);
      answering ||= res.headersSent;
    }
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    if (answering) {
      // An answer already started on this connection; a raw one cannot follow it.
      socket.destroySoon();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW') this.o.limits.headerTooLarge(socket);
    const refusal = parseRefusal(err);
    logRefusal(socket, refusal);
    const answer = refusalHead(refusal.status);
    socket.end(answer);
    this.o.accessLog?.refused(socket, refusal.status, answer.length);
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
    this.accepting = on;
    this.o.scoreboard.setAccepting(this.o.processSlot, on);
  }
}
