// HTTP/2 for one serving loop: Node's HTTP/2 server, fed the connections the connection server
// accepted (and, for h2c, found to start with the preface or to ask for Upgrade: h2c). Every
// stream becomes a request that the connection server runs like an HTTP/1.1 one: the same
// request slots, limits, proxy path and access log (see request-view.ts for what it looks like).
//
// Guards: LimitStreams is SETTINGS_MAX_CONCURRENT_STREAMS, and nghttp2 refuses a stream over it
// with REFUSED_STREAM; H2MaxResets closes a connection whose client resets streams too fast
// (rapid reset); Node's own bounds stop floods of headers, invalid frames and refused streams.
import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { Settings } from '../config/types';
import type { LoopLimits } from '../limits/loop-limits';
import { CountedH2Response } from '../log/counted-response';
import { log, logs } from '../log/logger';
import { insertAfterPreface, streamOneHeaders, SWITCHING_PROTOCOLS } from './h2c-upgrade';
import { ReplaySocket } from './replay-socket';
import { ResetGuard } from './reset-guard';
import { viewAsHttp1 } from './request-view';

export interface H2FrontOptions {
  settings: Settings;
  limits: LoopLimits;
  /** With an access log, responses count their body bytes. */
  countBodies: boolean;
  /** The connection server's entry for every request. */
  onRequest: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** A connection now speaks HTTP/2. */
  onSession: (socket: net.Socket, session: http2.ServerHttp2Session) => void;
}

/** The pseudo-header fields HTTP/2 adds to a request's list besides its own fields. */
const PSEUDO_FIELDS = 4;
/** Node's defaults, written down here since the docs promise them. */
const MAX_INVALID_FRAMES = 1000;
const MAX_REJECTED_STREAMS = 100;

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

export class H2Front {
  private readonly server: http2.Http2Server;
  /** The client connection under each session (the session's own `socket` is a guarded proxy). */
  private readonly sockets = new WeakMap<http2.Http2Session, net.Socket>();
  /** The connection being handed over while Node creates its session. */
  private handing: net.Socket | null = null;

  constructor(private readonly o: H2FrontOptions) {
    const l = o.settings.limits;
    this.server = http2.createServer({
      settings: { maxConcurrentStreams: l.streams, maxHeaderListSize: l.requestHeader },
      // One field past LimitRequestHeaderLines reaches the request guard, which answers 431;
      // beyond twice that the stream is reset without a request being made of it.
      maxHeaderListPairs: l.requestHeaderLines > 0 ? 2 * l.requestHeaderLines + PSEUDO_FIELDS : 0xffff,
      maxSessionInvalidFrames: MAX_INVALID_FRAMES,
      maxSessionRejectedStreams: MAX_REJECTED_STREAMS,
      ...(o.countBodies && { Http2ServerResponse: CountedH2Response as unknown as typeof http2.Http2ServerResponse }),
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.onRequest(req, res));
    this.server.on('sessionError', (err: Error) => {
      if (logs('http2', 'debug')) log('http2').debug({ err: err.message }, 'HTTP/2 session error');
    });
  }

  /** A connection whose first bytes (`head`) were read, and were the preface. */
  serve(socket: net.Socket, head: Buffer): void {
    this.hand(socket, new ReplaySocket(socket, head, null));
  }

  /** A connection no byte of which was read yet (or a TLS one where ALPN chose h2): the session
   * reads it natively. */
  serveNative(socket: net.Socket): void {
    this.hand(socket, socket);
  }

  /** An HTTP/1.1 request that asked for h2c (wantsH2c): 101, then its answer on stream 1.
   * False when its header is too large for one frame (it is then served in HTTP/1.1). */
  upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): boolean {
    const frame = streamOneHeaders(req);
    if (frame === null) return false;
    socket.write(SWITCHING_PROTOCOLS);
    const replay: ReplaySocket = new ReplaySocket(socket, Buffer.alloc(0), insertAfterPreface(frame, () => replay.stopRewriting()));
    this.hand(socket, replay);
    if (head.length > 0) socket.unshift(head);
    socket.resume();
    return true;
  }

  private hand(socket: net.Socket, stream: net.Socket | ReplaySocket): void {
    this.handing = socket;
    try {
      this.server.emit('connection', stream);
    } finally {
      this.handing = null;
    }
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const socket = this.handing;
    if (socket === null) {
      session.destroy();
      return;
    }
    this.sockets.set(session, socket);
    session.on('error', (err) => {
      if (logs('http2', 'debug')) log('http2').debug({ err: err.message, client: socket.remoteAddress }, 'HTTP/2 connection error');
    });
    const p = this.o.settings.protocols;
    const guard = new ResetGuard(p.maxResets, p.resetIntervalMs);
    const reset = (): void => {
      if (!guard.reset(Date.now()) || session.destroyed) return;
      this.o.limits.tooManyResets(socket);
      session.destroy(new Error('H2MaxResets exceeded'), NGHTTP2_ENHANCE_YOUR_CALM);
    };
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      // Node announces a stream a tick after its HEADERS: one that is closed already was reset
      // by the client in the same read, which is what a rapid-reset flood looks like.
      if (stream.closed) return reset();
      // 'aborted' also follows a reset of ours, but by then the stream is destroyed already.
      stream.on('aborted', () => {
        if (!stream.destroyed) reset();
      });
    });
    this.o.onSession(socket, session);
  }

  private onRequest(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
    // Reset before it was announced: nothing to answer, and no backend request to make.
    if (req.stream.closed) return;
    const socket = this.sockets.get(req.stream.session as http2.Http2Session);
    if (socket === undefined) {
      req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    viewAsHttp1(req, socket);
    // The HTTP/1.1 path takes it as its own kind: the fields it reads are the same.
    this.o.onRequest(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
  }
}
