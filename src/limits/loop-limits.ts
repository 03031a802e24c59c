// The sandbox limits of one serving loop (a child's event loop, or one worker thread): what the
// connection server asks at each connection and request, the request guard around the handler,
// the lines server-status shows, and the log lines naming each limit.
//
// A connection is known here by a small index into preallocated arrays, handed out at accept
// and given back at close, so that nothing is allocated or looked up by string per request.
import type http from 'node:http';
import type net from 'node:net';
import type { Settings } from '../config/types';
import type { RequestHandler } from '../child/handler';
import { log, logs } from '../log/logger';
import type { LimitCounters } from '../shm/limits';
import { REFUSED_CLIENTS, REFUSED_PER_CLIENT, UNTRACKED } from '../shm/limits';
import { abandonExchange } from '../proxy/exchange';
import { answer } from './answer';
import { hashClientAddress, parseClientAddress } from './client-address';
import { FloodLog } from './flood-log';
import { Limit, LIMIT_NAMES, type LimitName } from './limit-names';
import { ReadTimeouts, type ReadStage } from './read-timeouts';
import { guardRequests } from './request-guard';
import { keepAliveLimitName } from './settings';

/** What admit() answers for a connection a limit closed. */
export const REFUSED = -1;

const NO_CLIENT = -1;

export class LoopLimits {
  /** For the listening sockets' net.Server: LimitPacket. */
  readonly socketOptions: net.ServerOpts;
  /** For http.createServer: LimitRequestHeader (and LimitPacket for its streams). */
  readonly httpOptions: http.ServerOptions;
  /** Node keeps this many header fields: one past LimitRequestHeaderLines, to see it passed. */
  readonly maxHeadersCount: number;
  private readonly counting: boolean;
  private readonly tracksClients: boolean;
  private readonly flood = new FloodLog();
  private readonly timeouts: ReadTimeouts | null;
  private readonly address = new Int32Array(4);
  /** Per connection index: its client entry handle, and whether LimitConnections counts it. */
  private handles = new Int32Array(64);
  private counted = new Uint8Array(64);
  private free: number[] = [];
  private next = 0;

  constructor(
    private readonly settings: Settings,
    private readonly counters: LimitCounters,
    private readonly processSlot: number,
  ) {
    const l = settings.limits;
    this.tracksClients = l.clients > 0 || l.connectionsPerClient > 0 || l.requestsPerClient > 0;
    this.counting = this.tracksClients || l.connections > 0;
    const { header, body } = l.readTimeout;
    this.timeouts = header || body ? new ReadTimeouts(header, body, (...a) => this.readTimedOut(...a)) : null;
    this.socketOptions = l.packet > 0 ? { highWaterMark: l.packet } : {};
    this.httpOptions = { maxHeaderSize: l.requestHeader, ...(l.packet > 0 ? { highWaterMark: l.packet } : {}) };
    this.maxHeadersCount = l.requestHeaderLines > 0 ? l.requestHeaderLines + 1 : 0;
  }

  /** A new connection: counted, or closed when a connection limit is reached (REFUSED). */
  admit(socket: net.Socket): number {
    if (!this.counting && !this.timeouts) return 0;
    const i = this.take();
    this.handles[i] = NO_CLIENT;
    this.counted[i] = 0;
    if (this.counting) {
      const l = this.settings.limits;
      const slot = this.processSlot;
      if (l.connections > 0) {
        if (this.counters.addConnection(slot) > l.connections) {
          this.counters.removeConnection(slot);
          return this.refuseConnection(i, socket, 'LimitConnections', l.connections);
        }
        this.counted[i] = 1;
      }
      if (this.tracksClients) {
        const handle = this.admitClient(socket);
        if (handle === REFUSED_CLIENTS || handle === REFUSED_PER_CLIENT) {
          if (this.counted[i]) this.counters.removeConnection(slot);
          return handle === REFUSED_CLIENTS
            ? this.refuseConnection(i, socket, 'LimitClients', l.clients)
            : this.refuseConnection(i, socket, 'LimitConnectionsPerClient', l.connectionsPerClient);
        }
        this.handles[i] = handle;
      }
    }
    this.timeouts?.opened(i, socket);
    return i;
  }

  release(i: number): void {
    if (!this.counting && !this.timeouts) return;
    const handle = this.handles[i];
    if (handle >= 0) this.counters.releaseClient(handle, this.processSlot);
    if (this.counted[i]) this.counters.removeConnection(this.processSlot);
    this.timeouts?.closed(i);
    this.free.push(i);
  }

  /** The request's header is whole: its header time stops. */
  headersRead(i: number, req: http.IncomingMessage): void {
    this.timeouts?.headersRead(i, req);
  }

  /** The request is about to run; false when LimitRequestsPerClient refuses it (run `refuse`). */
  enterRequest(i: number, req: http.IncomingMessage, res: http.ServerResponse): boolean {
    this.timeouts?.bodyStarted(i, res);
    const limit = this.settings.limits.requestsPerClient;
    if (limit === 0) return true;
    const handle = this.handles[i];
    if (handle < 0 || this.counters.enterRequest(handle, this.processSlot, limit)) return true;
    this.refused('LimitRequestsPerClient', 429, req, { LimitRequestsPerClient: limit });
    return false;
  }

  /** The end of a request enterRequest let in. */
  leaveRequest(i: number): void {
    if (this.settings.limits.requestsPerClient === 0) return;
    const handle = this.handles[i];
    if (handle >= 0) this.counters.leaveRequest(handle, this.processSlot);
  }

  /** The answer to a request LimitRequestsPerClient refused. */
  readonly refuse: RequestHandler = (_req, res) => answer(res, 429, 'LimitRequestsPerClient', false);

  /** The connection now speaks HTTP/2 or carries a WebSocket: RequestReadTimeout is HTTP/1.1's. */
  leaveHttp1(i: number): void {
    this.timeouts?.stop(i);
  }

  /** A WebSocket closed with 1009 by LimitWebSocketsFrame or LimitWebSocketsMessage. */
  webSocketRefused(limit: 'LimitWebSocketsFrame' | 'LimitWebSocketsMessage', socket: net.Socket): void {
    const l = this.settings.limits;
    const value = limit === 'LimitWebSocketsFrame' ? l.webSocketsFrame : l.webSocketsMessage;
    this.counters.countRejection(Limit[limit]);
    this.flood.event(limit, 'info', `${limit} ${value} exceeded: WebSocket closed with 1009`, { [limit]: value, client: socket.remoteAddress });
  }

  /** An HTTP/2 connection closed with GOAWAY ENHANCE_YOUR_CALM for resetting too many streams. */
  tooManyResets(socket: net.Socket): void {
    const p = this.settings.protocols;
    this.counters.countRejection(Limit.H2MaxResets);
    this.flood.event('H2MaxResets', 'warn', `H2MaxResets ${p.maxResets} in ${p.resetIntervalMs / 1000}s exceeded (rapid reset): connection closed with GOAWAY ENHANCE_YOUR_CALM`, {
      H2MaxResets: p.maxResets,
      client: socket.remoteAddress,
    });
  }

  /** The connection waits in keep-alive for its next request. */
  idle(i: number): void {
    this.timeouts?.idle(i);
  }

  /** The last request a connection may carry (MaxKeepAliveRequests or LimitKeepAlive). */
  lastRequest(req: http.IncomingMessage): void {
    if (!logs('core', 'debug')) return;
    const s = this.settings;
    const limit = keepAliveLimitName(s);
    log('core').debug({ limit, [limit]: s.maxKeepAliveRequests, client: req.socket.remoteAddress }, `${limit} reached: closing the connection after this response`);
  }

  /** Node's parser refused a request line and header over LimitRequestHeader (it answers 431). */
  headerTooLarge(socket: net.Socket): void {
    const limit = this.settings.limits.requestHeader;
    this.counters.countRejection(Limit.LimitRequestHeader);
    this.flood.event('LimitRequestHeader', 'info', `request header larger than LimitRequestHeader ${limit}: answered 431`, {
      LimitRequestHeader: limit,
      client: socket.remoteAddress,
    });
  }

  /** Wraps the loop's handler in the per-request limits. */
  guard(handler: RequestHandler): RequestHandler {
    return guardRequests(this.settings.limits, (limit, status, req, fields) => this.refused(limit, status, req, fields), handler);
  }

  /** server-status lines (StatusExtras): the shared counts in force here, and what each limit refused. */
  lines(): string[] {
    const l = this.settings.limits;
    const c = this.counters;
    const lines: string[] = [];
    if (l.connections > 0) lines.push(`LimitedConnections: ${c.connections()}`);
    if (this.tracksClients) lines.push(`LimitedClients: ${c.clients()}`);
    lines.push(`LimitRejections: ${LIMIT_NAMES.map((name, i) => `${name}=${c.rejections(i)}`).join(' ')}`);
    return lines;
  }

  /** For server-status (StatusExtras): a page built whole in memory is held to LimitResponseBody. */
  refuseBufferedBody(res: http.ServerResponse, bytes: number): boolean {
    const limit = this.settings.limits.responseBody;
    if (limit === 0 || bytes <= limit) return false;
    this.counters.countRejection(Limit.LimitResponseBody);
    this.flood.event('LimitResponseBody', 'warn', `response body of ${bytes} bytes is larger than LimitResponseBody ${limit}: answered 500`, {
      LimitResponseBody: limit,
      bytes,
      url: res.req?.url,
    });
    answer(res, 500, 'LimitResponseBody', false);
    return true;
  }

  close(): void {
    this.timeouts?.close();
    this.flood.flush();
  }

  private take(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const i = this.next++;
    if (i >= this.handles.length) {
      const handles = new Int32Array(this.handles.length * 2);
      handles.set(this.handles);
      this.handles = handles;
      const counted = new Uint8Array(handles.length);
      counted.set(this.counted);
      this.counted = counted;
    }
    this.timeouts?.grow(this.handles.length);
    return i;
  }

  private admitClient(socket: net.Socket): number {
    const ip = socket.remoteAddress;
    if (ip === undefined || !parseClientAddress(ip, this.address)) return NO_CLIENT;
    const l = this.settings.limits;
    const a = this.address;
    const handle = this.counters.admitClient(a, hashClientAddress(a), this.processSlot, l.connectionsPerClient, l.clients);
    if (handle === UNTRACKED) {
      const message = 'the client table of the limits segment is full or busy: a connection goes uncounted per client';
      this.flood.event('LimitClients', 'warn', message, { client: ip, clientSlots: this.counters.clientSlots }, 'client table');
      return NO_CLIENT;
    }
    return handle;
  }

  private refuseConnection(i: number, socket: net.Socket, limit: LimitName, value: number): number {
    this.free.push(i);
    this.counters.countRejection(Limit[limit]);
    this.flood.event(limit, 'warn', `${limit} ${value} reached: connection closed at accept`, {
      [limit]: value,
      client: socket.remoteAddress,
    });
    socket.destroy();
    return REFUSED;
  }

  private refused(limit: LimitName, status: number, req: http.IncomingMessage, fields: Record<string, unknown>): void {
    this.counters.countRejection(Limit[limit]);
    const fieldsOfLine = { ...fields, status, client: req.socket?.remoteAddress, method: req.method, url: req.url };
    // A body cut as it streams is another event than one refused by its Content-Length.
    this.flood.event(limit, 'info', `${limit} exceeded: answered ${status}`, fieldsOfLine, fields.streamed ? `${limit} streamed` : limit);
  }

  private readTimedOut(
    stage: ReadStage,
    socket: net.Socket,
    res: http.ServerResponse | null,
    elapsedMs: number,
    bytes: number,
  ): void {
    this.counters.countRejection(Limit.RequestReadTimeout);
    const answered = stage === 'header' || (res !== null && !res.headersSent);
    this.flood.event('RequestReadTimeout', 'info', `request ${stage} read timeout: ${answered ? 'answered 408 and closed' : 'connection closed'}`, {
      stage,
      elapsedMs,
      bytes,
      client: socket.remoteAddress,
    });
    if (stage === 'header') {
      // No request exists yet to answer through: the status line goes on the socket itself.
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    if (res !== null && !res.headersSent) answer(res, 408, 'RequestReadTimeout', true);
    else socket.destroy();
    if (res !== null) abandonExchange(res);
  }
}
