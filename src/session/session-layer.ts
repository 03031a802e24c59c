// The session step of the data path (client -> limits -> session -> backend), one per serving
// event loop: on a path with `Session On` it checks CSRF, finds the request's session by its
// cookie, follows a renewed id to its new one within SessionKeepOldCookieTimeout, answers a dead
// cookie as SessionOnInvalidCookie says and a missing login as SessionRequire says, then hands
// the request on with its RequestSession attached. A store that cannot answer fails only these
// requests, with 503, logged once per interval.
import type http from 'node:http';
import type { RouteSession, SessionSettings } from '../config/session';
import { log } from '../log/logger';
import { answerPlain } from '../proxy/plain-answer';
import { clearCookie, cookieValue, setCookie } from './cookie';
import { csrfRefusal } from './csrf';
import { sessionEvents } from './events';
import { expiryOf, isSessionId, type SessionRecord } from './record';
import { attachSession, RequestSession } from './request-session';
import { andThen, type Maybe, type SessionStore } from './store';

/** How often a store outage is logged while it lasts. */
export const OUTAGE_LOG_MS = 10_000;

/** What the session step decided: forward with this session, or it answered the request. */
export type Begun = RequestSession | null;

export class SessionLayer {
  private lastOutageLog = 0;
  private outageFailures = 0;

  constructor(
    readonly settings: SessionSettings,
    readonly store: SessionStore,
  ) {}

  /** Null when the request was answered here; otherwise its session (maybe without an id).
   * A store that answers at once (shm, sqlite) is answered at once, without a promise or a
   * closure: this runs for every request of the path. */
  begin(req: http.IncomingMessage, res: http.ServerResponse, route: RouteSession): Maybe<Begun> {
    if (route.csrf) {
      const refusal = csrfRefusal(req, route.allowedOrigins);
      if (refusal !== null) {
        log('session').warn({ url: req.url, method: req.method, origin: req.headers.origin, referer: req.headers.referer }, `CSRF check: ${refusal}; answering 403`);
        answerPlain(res, 403);
        return null;
      }
    }
    const id = cookieValue(req.headers.cookie, this.settings.cookieName);
    let found: Maybe<RequestSession | 'invalid'>;
    try {
      found = id === null ? this.session(null, null) : this.lookup(id, Date.now());
    } catch (err) {
      return this.storeFailed(req, res, err);
    }
    if (found instanceof Promise) {
      return found.then(
        (session) => this.decide(req, res, route, id, session),
        (err: unknown) => this.storeFailed(req, res, err),
      );
    }
    return this.decide(req, res, route, id, found);
  }

  private decide(req: http.IncomingMessage, res: http.ServerResponse, route: RouteSession, id: string | null, found: RequestSession | 'invalid'): Begun {
    if (this.lastOutageLog !== 0) this.recovered();
    return this.admit(req, res, route, id, found);
  }

  private session(id: string | null, r: SessionRecord | null): RequestSession {
    return new RequestSession(this.settings, this.store, id, r, this.reportOutage);
  }

  private readonly reportOutage = (err: unknown): void => this.logOutage(err);

  /** The session behind a cookie value, following a renewal; 'invalid' when there is none. */
  private lookup(id: string, now: number): Maybe<RequestSession | 'invalid'> {
    if (!isSessionId(id)) return 'invalid';
    const r = this.store.get(id);
    return r instanceof Promise ? r.then((record) => this.found(id, record, now)) : this.found(id, r, now);
  }

  private found(id: string, r: SessionRecord | null, now: number): Maybe<RequestSession | 'invalid'> {
    if (r === null) return 'invalid';
    if (r.renewedTo !== undefined) {
      const to = r.renewedTo;
      if ((r.renewedUntil ?? 0) <= now) return 'invalid';
      return andThen(this.store.get(to), (renewed) => {
        if (renewed === null || this.expired(to, renewed, now)) return 'invalid';
        const session = this.session(to, renewed);
        // The client sent the old id: it learns the new one with this answer.
        session.owe(setCookie(this.settings, to));
        return this.touched(session, now);
      });
    }
    if (this.expired(id, r, now)) return 'invalid';
    return this.touched(this.session(id, r), now);
  }

  private expired(id: string, r: SessionRecord, now: number): boolean {
    if (expiryOf(r, this.settings.maxIdle, this.settings.maxLifetime) > now) return false;
    sessionEvents.emit('expired', { id });
    return true;
  }

  /** Writes the last-use time back when it is older than SessionExpiryUpdateInterval. A failed
   * write costs the session some idle time, not the request. */
  private touched(session: RequestSession, now: number): RequestSession {
    const r = session.record as SessionRecord;
    const id = session.id as string;
    if (now - r.touched < this.settings.expiryUpdateInterval) return session;
    const updated = { ...r, touched: now };
    session.record = updated;
    const s = this.settings;
    try {
      const written = this.store.update(id, updated, expiryOf(updated, s.maxIdle, s.maxLifetime));
      if (written instanceof Promise) written.catch((err: unknown) => this.logOutage(err));
    } catch (err) {
      this.logOutage(err);
    }
    return session;
  }

  private admit(req: http.IncomingMessage, res: http.ServerResponse, route: RouteSession, id: string | null, found: RequestSession | 'invalid'): Begun {
    const s = this.settings;
    let session: RequestSession;
    if (found === 'invalid') {
      if (s.onInvalidCookie === '409') {
        log('session').info({ url: req.url }, 'session cookie names no live session; answering 409 (SessionOnInvalidCookie 409)');
        res.setHeader('Set-Cookie', clearCookie(s));
        answerPlain(res, 409);
        return null;
      }
      if (id !== null && id !== '') log('session').debug({ url: req.url }, 'session cookie names no live session; going on without one');
      session = this.session(null, null);
      session.owe(clearCookie(s));
    } else {
      session = found;
    }
    const require = route.require;
    if (require.kind !== 'off' && !session.authenticated) {
      if (found === 'invalid') res.setHeader('Set-Cookie', clearCookie(s));
      if (require.kind === 'status') {
        answerPlain(res, 401);
      } else {
        res.writeHead(302, { Location: require.location, 'Content-Length': '0' });
        res.end();
      }
      return null;
    }
    attachSession(req, session);
    return session;
  }

  private storeFailed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): null {
    this.logOutage(err, req.url);
    if (!req.complete) res.shouldKeepAlive = false;
    answerPlain(res, 503);
    return null;
  }

  /** An outage fails many requests: one line per OUTAGE_LOG_MS, with how many failed since. */
  logOutage(err: unknown, url?: string): void {
    this.outageFailures++;
    const now = Date.now();
    if (now - this.lastOutageLog < OUTAGE_LOG_MS) return;
    this.lastOutageLog = now;
    const failures = this.outageFailures;
    this.outageFailures = 0;
    log('session').error(
      { store: this.store.name, err: (err as Error)?.message ?? String(err), failures, url },
      `session store ${this.store.name} cannot answer: ${(err as Error)?.message ?? String(err)}; requests that need a session get 503 (${failures} since the last line)`,
    );
  }

  /** Notes that the store answered again after an outage, once. */
  private recovered(): void {
    this.lastOutageLog = 0;
    this.outageFailures = 0;
    log('session').notice({ store: this.store.name }, `session store ${this.store.name} answers again`);
  }
}

/** The session's configured attributes as request headers, after removing any the client sent
 * under those names (a client must not speak for the session). */
export function sessionRequestHeaders(out: string[], route: RouteSession, session: RequestSession): void {
  if (route.headers.length === 0) return;
  for (let i = out.length - 2; i >= 0; i -= 2) {
    const name = out[i].toLowerCase();
    if (route.headers.some((h) => h.header.toLowerCase() === name)) out.splice(i, 2);
  }
  for (const h of route.headers) {
    const value = h.attribute === 'id' ? session.id : h.attribute === 'principal' ? session.principal : session.attribute(h.attribute);
    if (value !== null && value !== undefined) out.push(h.header, value);
  }
}
