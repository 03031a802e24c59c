// One proxied request in flight: the undici handler that relays the backend's answer to the
// client. Nothing is buffered: each chunk goes out in the event-loop iteration it arrived in
// (with the iteration's other client writes, see write-batch.ts) and the backend is paused
// while the client cannot take more; the client's Expect: 100-continue is answered once the
// request is being written to a backend; response headers go out at once even when no body
// follows yet (Server-Sent Events, long polling).
//
// It implements the handler interface undici 7's clients call themselves (onConnect ...
// onComplete). The controller interface is a wrapper around it that builds a header object for
// every response and its trailers, which a relay would only take apart again.
import type http from 'node:http';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { log } from '../log/logger';
import type { Commit, RequestSession } from '../session/request-session';
import { clientOriginOf } from './client-origin';
import { clientResponseHeaders, linkValues, trailerPairs, type ClientFacts, type ResponseTarget } from './headers';
import { describeFailure } from './hints';
import { answerDrained } from './keep-on-abandon';
import { answerPlain } from './plain-answer';
import type { ProxyPlan } from './route-plan';
import type { Outcome, Upstream, UpstreamMember } from './upstream';
import { holdWrites, type HeldWriter } from './write-batch';

const WAITING = 0;
const RELAYING = 1;
const DONE = 2;

// How the client side ended an exchange first.
const NOT_ENDED = 0;
const CLOSED = 1;
/** Its request turned out malformed; that is logged where it was found. */
const REFUSED = 2;
type ClientEnd = typeof NOT_ENDED | typeof CLOSED | typeof REFUSED;

const kExchange = Symbol('exchange');
type ExchangeResponse = http.ServerResponse & { [kExchange]?: Exchange };

// Listeners shared by every exchange, so a request adds no closures.
function onResponseClose(this: ExchangeResponse): void {
  this[kExchange]?.abandon(CLOSED);
}

function onResponseDrain(this: ExchangeResponse): void {
  this[kExchange]?.drained();
}

/** Why a backend request is aborted when the client side ended first. */
const clientGone = new Error('the client closed the connection');
/** Why a backend answer is dropped when its session changes could not be stored. */
const sessionRefused = new Error('the session store refused the session change');

/** Stops a request that is waiting for or streaming to a backend, once its client connection
 * answered for it another way (llhttp refused the rest of the request). */
export function abandonExchange(res: http.ServerResponse): void {
  (res as ExchangeResponse)[kExchange]?.abandon(REFUSED);
}

/** Sees each final response before it is relayed and may take headers out of it (the
 * state-aware triggers, src/stateaware/). */
export interface ResponseObserver {
  onResponse(statusCode: number, headers: Buffer[]): Buffer[];
}

export class Exchange implements Dispatcher.DispatchHandler, ClientFacts, ResponseTarget, HeldWriter {
  readonly address: string;
  readonly proto: 'http' | 'https';
  readonly encrypted: boolean;
  readonly host: string | undefined;
  chunkable = false;
  held = false;
  /** Relayed from another child: the client's address is not the socket's. */
  private readonly relayed: boolean;
  private abortBackend: ((err?: Error) => void) | null = null;
  private resumeBackend: (() => void) | null = null;
  private state = WAITING;
  private settled = false;
  private clientEnd: ClientEnd = NOT_ENDED;
  private bodyStarted = false;
  /** Its drain listener is on: the client once took the body slower than the backend sent it. */
  private watchingDrain = false;
  /** The backend's answer is whole; the client's ends when the write batch goes out. */
  private complete = false;

  constructor(
    readonly req: http.IncomingMessage,
    protected readonly res: ExchangeResponse,
    /** Taken now: undici detaches req.socket once it has sent the body. */
    readonly socket: net.Socket,
    private readonly plan: ProxyPlan,
    private readonly upstream: Upstream,
    private readonly member: UpstreamMember,
    private expectContinue: boolean,
    /** The request's session on a path with sessions: the answer's X-Session-* headers go to it. */
    private readonly session: RequestSession | null = null,
    private readonly observer: ResponseObserver | null = null,
  ) {
    const origin = clientOriginOf(req);
    const address = origin?.address ?? socket.remoteAddress ?? '';
    this.address = address.startsWith('::ffff:') ? address.slice(7) : address;
    this.encrypted = origin?.encrypted ?? (socket as TLSSocket).encrypted === true;
    this.relayed = origin !== undefined;
    this.proto = this.encrypted ? 'https' : 'http';
    this.host = req.headers.host;
    res[kExchange] = this;
    res.on('close', onResponseClose);
  }

  get clientHost(): string {
    return this.host ?? this.plan.serverName;
  }

  trusted(): boolean {
    return this.relayed ? this.plan.trustsAddress(this.address) : this.plan.trusts(this.socket);
  }

  tlsSocket(): TLSSocket | null {
    return this.encrypted ? (this.socket as TLSSocket) : null;
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientEnd !== NOT_ENDED) {
      abort(clientGone);
      return;
    }
    this.abortBackend = abort;
    if (this.expectContinue) {
      this.expectContinue = false;
      this.res.writeContinue();
    }
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) {
      this.informational(statusCode, headers);
      return true;
    }
    this.state = RELAYING;
    this.resumeBackend = resume;
    if (this.observer !== null) headers = this.observer.onResponse(statusCode, headers);
    if (this.session !== null) return this.sessionHead(this.session, statusCode, headers, statusText, resume);
    this.relayHead(statusCode, headers, statusText, null);
    return true;
  }

  private relayHead(statusCode: number, headers: Buffer[], statusText: string, setCookies: readonly string[] | null): void {
    const res = this.res;
    this.chunkable = res.useChunkedEncodingByDefault && this.req.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304;
    const out = clientResponseHeaders(headers, this.plan, this);
    if (setCookies !== null) for (const cookie of setCookies) out.push('Set-Cookie', cookie);
    // HTTP/2 has no reason phrase (Node warns when given one).
    const reason = this.req.httpVersionMajor === 1 ? statusText || undefined : undefined;
    res.writeHead(statusCode, reason, out);
    holdWrites(this);
  }

  /**
   * Stores what the backend's X-Session-* headers ask before the answer goes out, so the client
   * never holds a cookie the store has not taken. A store that answers later (MariaDB) pauses
   * the backend meanwhile: undici delivers no body until resume().
   */
  private sessionHead(session: RequestSession, statusCode: number, raw: Buffer[], statusText: string, resume: () => void): boolean {
    const { raw: headers, changes } = session.take(raw);
    let commit: Commit | Promise<Commit>;
    try {
      commit = session.commit(changes);
    } catch (err) {
      this.refuseSession((err as Error).message);
      return true;
    }
    if (!(commit instanceof Promise)) {
      this.relaySessionHead(commit, statusCode, headers, statusText);
      return true;
    }
    commit.then(
      (c) => {
        this.relaySessionHead(c, statusCode, headers, statusText);
        if (this.clientEnd === NOT_ENDED) resume();
      },
      (err: unknown) => this.refuseSession((err as Error)?.message ?? String(err)),
    );
    return false;
  }

  private relaySessionHead(c: Commit, statusCode: number, headers: Buffer[], statusText: string): void {
    if (this.clientEnd !== NOT_ENDED) return;
    if ('status' in c) return this.refuseSession(c.reason);
    this.relayHead(statusCode, headers, statusText, c.setCookies);
  }

  /** The backend answered but its session change could not be stored: 503 instead. */
  private refuseSession(reason: string | null): void {
    if (this.clientEnd !== NOT_ENDED) return;
    if (reason !== null) log('session').error({ backend: this.member.name, url: this.req.url }, `${reason}; answering 503`);
    this.clientEnd = REFUSED;
    this.settle('ok');
    if (!this.req.complete) this.res.shouldKeepAlive = false;
    answerPlain(this.res, 503);
    this.abortBackend?.(sessionRefused);
  }

  onData(chunk: Buffer): boolean {
    this.bodyStarted = true;
    holdWrites(this);
    if (this.res.write(chunk)) return true;
    if (!this.watchingDrain) {
      this.watchingDrain = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  // undici passes the raw trailer lines here, Buffers like the headers, whatever its types say.
  onComplete(trailers: ReadonlyArray<Buffer | string> | null): void {
    this.state = DONE;
    this.settle('ok');
    if (trailers !== null && trailers.length > 0) this.res.addTrailers(trailerPairs(trailers));
    this.complete = true;
    holdWrites(this);
  }

  onError(err: Error): void {
    const res = this.res;
    this.state = DONE;
    const failure = describeFailure(err, this.member, this.plan.timeoutText);
    const backend = this.member.name;
    if (this.clientEnd !== NOT_ENDED || this.socket.destroyed) {
      // Not the backend's doing, unless it could not even be reached.
      this.settle(failure.outcome === 'connect-failure' ? failure.outcome : 'ok');
      if (this.clientEnd !== REFUSED) {
        const fate = err === answerDrained ? 'its answer is drained to keep the connection' : `request to ${backend} aborted`;
        log('proxy').info({ backend, url: this.req.url }, `client closed the connection before the response was complete; ${fate}`);
      }
      return;
    }
    this.settle(failure.outcome);
    const fields = { backend, url: this.req.url, code: failure.code, hint: failure.hint };
    if (res.headersSent) {
      // Too late for a status: cutting the connection is how the client learns the body is short.
      log('proxy').error(fields, `${backend}: ${failure.cause}, after the response began; client connection cut`);
      res.destroy();
      return;
    }
    log('proxy').error({ ...fields, status: failure.status }, `${backend}: ${failure.cause}; answering ${failure.status}`);
    // Otherwise Node would read and discard the rest of the request body before the next request.
    if (!this.req.complete) res.shouldKeepAlive = false;
    answerPlain(res, failure.status);
  }

  /** The client side ended first: nothing more goes to the backend and its answer is dropped. */
  abandon(how: typeof CLOSED | typeof REFUSED): void {
    if (this.clientEnd !== NOT_ENDED || this.state === DONE) return;
    this.clientEnd = how;
    this.abortBackend?.(clientGone);
  }

  drained(): void {
    this.resumeBackend?.();
  }

  release(): void {
    if (this.complete) {
      this.res.end();
      // HTTP/1.1's end() uncorks its socket fully; an HTTP/2 stream's leaves the connection as is.
      if (this.socket.writableCorked > 0) this.socket.uncork();
      return;
    }
    // Headers with no body yet (an event stream, a long poll) go now, not with the first chunk.
    if (this.state === RELAYING && !this.bodyStarted && !this.res.writableEnded) this.res.flushHeaders();
    this.socket.uncork();
  }

  /** The backend switched protocols: the exchange is over, its connection carries on. */
  protected switched(): void {
    this.state = DONE;
    this.settle('ok');
  }

  private settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    this.upstream.done(this.member, outcome);
  }

  /** 103 Early Hints and 102 Processing have a Node API to pass them on; other 1xx are dropped. */
  private informational(statusCode: number, headers: Buffer[]): void {
    const { req, res } = this;
    // An HTTP/1.0 client gets no 1xx (RFC 9110 §15.2).
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return;
    if (statusCode === 102) {
      // HTTP/2 responses have no writeProcessing.
      if (typeof res.writeProcessing === 'function') res.writeProcessing();
      return;
    }
    const link = statusCode === 103 ? linkValues(headers) : [];
    if (link.length === 0) return;
    try {
      res.writeEarlyHints({ link });
    } catch (err) {
      // Node checks Link values; the final response still goes through without the hints.
      log('proxy').debug({ backend: this.member.name, err: (err as Error).message }, '103 Early Hints not relayed');
    }
  }
}
