// The session of one request, found once before it is forwarded and reachable from anything
// that holds the request (sessionOf(req)): the proxy exchange, and modules built on sessions.
// It carries the backend's answer back into the store: the X-Session-* response headers are
// taken out of the response and turned into one write, and the Set-Cookie the client needs.
//
// Backend response headers (all X-Session-* are removed before the client sees the answer):
//   X-Session-Set-<name>: value    sets attribute <name> (lower case); an empty value removes it
//   X-Session-Authenticated: who   marks the session authenticated as principal `who` (renews its id)
//   X-Session-Invalidate: any      ends the session; the cookie is cleared
// Others are kept in `signals` for modules that read more of them.
import type http from 'node:http';
import type { SessionSettings } from '../config/session';
import { clearCookie, setCookie } from './cookie';
import { sessionEvents } from './events';
import { expiryOf, newSessionId, type SessionRecord } from './record';
import { andThen, type Maybe, type SessionStore, type WriteResult } from './store';

const kSession = Symbol('session');
type SessionRequest = http.IncomingMessage & { [kSession]?: RequestSession };

/** The request's session, once the session layer has looked for it; undefined on paths
 * without sessions. */
export function sessionOf(req: http.IncomingMessage): RequestSession | undefined {
  return (req as SessionRequest)[kSession];
}

export function attachSession(req: http.IncomingMessage, s: RequestSession): void {
  (req as SessionRequest)[kSession] = s;
}

/** No Set-Cookie owed, shared by the sessions that owe none (never changed in place). */
const NONE: readonly string[] = Object.freeze([]);
const NO_SIGNALS: ReadonlyMap<string, string> = new Map();

const PREFIX = 'x-session-';
const SET = 'set-';

/** A response header name starting with `x-session-`, any case, from its raw bytes. */
function isSessionHeader(name: Buffer): boolean {
  if (name.length <= PREFIX.length) return false;
  for (let i = 0; i < PREFIX.length; i++) if ((name[i] | 0x20) !== PREFIX.charCodeAt(i)) return false;
  return true;
}

/** What the backend asked for, from its response headers. */
interface Changes {
  set: Array<[string, string]>;
  principal: string | null;
  invalidate: boolean;
}

/** What answering the backend's changes came to: headers to add, or a refusal (its reason
 * null when the store's outage was logged already). */
export type Commit = { setCookies: readonly string[] } | { status: 503; reason: string | null };

export class RequestSession {
  /** The id the session is known by now (after a renewal: the new one); null without a session. */
  id: string | null;
  record: SessionRecord | null;
  /** Set-Cookie values owed to the client whatever the backend says (a renewed id seen
   * through the old cookie, a dead cookie to clear); made when the first is, as are `others`:
   * most requests need neither. */
  private owed: readonly string[] = NONE;
  private others: Map<string, string> | null = null;

  constructor(
    private readonly settings: SessionSettings,
    private readonly store: SessionStore,
    id: string | null,
    record: SessionRecord | null,
    /** Logs a store that cannot answer (rate-limited by the session layer). */
    private readonly storeFailed: (err: unknown) => void,
  ) {
    this.id = id;
    this.record = record;
  }

  /** X-Session-* response headers this layer does not read, by lower-case name. */
  get signals(): ReadonlyMap<string, string> {
    return this.others ?? NO_SIGNALS;
  }

  get authenticated(): boolean {
    return this.record?.authenticated === true;
  }

  get principal(): string | null {
    return this.record?.principal ?? null;
  }

  attribute(name: string): string | undefined {
    return this.record?.attributes[name.toLowerCase()];
  }

  /** The client must learn this cookie value (or have its cookie cleared) with the answer. */
  owe(cookie: string): void {
    this.owed = [...this.owed, cookie];
  }

  /**
   * Makes sure a session exists (for modules that need one before the backend asks), writing a
   * new one when there is none.
   */
  ensure(now = Date.now()): Maybe<WriteResult> {
    if (this.id !== null && this.record !== null) return 'ok';
    const id = newSessionId();
    const record: SessionRecord = { created: now, touched: now, authenticated: false, principal: null, attributes: {} };
    return andThen(this.store.create(id, record, expiryOf(record, this.settings.maxIdle, this.settings.maxLifetime)), (result) => {
      if (result !== 'ok') return result;
      this.id = id;
      this.record = record;
      this.owe(setCookie(this.settings, id));
      sessionEvents.emit('created', { id });
      return result;
    });
  }

  /** The backend's response headers without X-Session-*; what those asked for is kept for commit(). */
  take(raw: Buffer[]): { raw: Buffer[]; changes: Changes | null } {
    let changes: Changes | null = null;
    let kept: Buffer[] | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      if (!isSessionHeader(raw[i])) {
        kept?.push(raw[i], raw[i + 1]);
        continue;
      }
      kept ??= raw.slice(0, i);
      changes ??= { set: [], principal: null, invalidate: false };
      const name = raw[i].toString('latin1').toLowerCase().slice(PREFIX.length);
      const value = raw[i + 1].toString('utf8').trim();
      if (name.startsWith(SET) && name.length > SET.length) changes.set.push([name.slice(SET.length), value]);
      else if (name === 'authenticated' && value !== '') changes.principal = value;
      else if (name === 'invalidate') changes.invalidate = true;
      else (this.others ??= new Map()).set(PREFIX + name, value);
    }
    return { raw: kept ?? raw, changes };
  }

  /** Writes what the backend asked for; resolves to the Set-Cookie values to send. */
  commit(changes: Changes | null, now = Date.now()): Maybe<Commit> {
    // Nothing asked: the answer of most requests, with nothing to write.
    if (changes === null || (changes.set.length === 0 && changes.principal === null && !changes.invalidate)) {
      return { setCookies: this.owed };
    }
    try {
      const c = this.apply(changes, now);
      return c instanceof Promise ? c.catch((err: unknown) => this.failed(err)) : c;
    } catch (err) {
      return this.failed(err);
    }
  }

  private failed(err: unknown): Commit {
    this.storeFailed(err);
    return { status: 503, reason: null };
  }

  private apply(changes: Changes, now: number): Maybe<Commit> {
    if (changes.invalidate) return this.invalidate();
    const before = this.record;
    const record: SessionRecord = before
      ? { ...before, attributes: { ...before.attributes }, touched: now }
      : { created: now, touched: now, authenticated: false, principal: null, attributes: {} };
    for (const [name, value] of changes.set) {
      if (value === '') delete record.attributes[name];
      else record.attributes[name] = value;
    }
    const s = this.settings;
    const expires = expiryOf(record, s.maxIdle, s.maxLifetime);
    if (changes.principal !== null) {
      record.authenticated = true;
      record.principal = changes.principal;
      if (this.id !== null && s.renewOnAuthentication) return this.renew(this.id, record, expires, now, changes.principal);
    }
    if (this.id === null || before === null) {
      const id = newSessionId();
      return andThen(this.store.create(id, record, expires), (result) => {
        if (result !== 'ok') return this.refused(result, 'a new session');
        this.id = id;
        this.record = record;
        sessionEvents.emit('created', { id });
        if (record.authenticated) sessionEvents.emit('authenticated', { id, oldId: id, principal: record.principal as string });
        return { setCookies: [...this.owed, setCookie(s, id)] };
      });
    }
    const id = this.id;
    return andThen(this.store.update(id, record, expires), (result) => {
      if (result !== 'ok') return this.refused(result, 'a session change');
      this.record = record;
      if (changes.principal !== null) sessionEvents.emit('authenticated', { id, oldId: id, principal: changes.principal });
      return { setCookies: this.owed };
    });
  }

  /** A new id for the now authenticated session; the old one leads to it for SessionKeepOldCookieTimeout. */
  private renew(oldId: string, record: SessionRecord, expires: number, now: number, principal: string): Maybe<Commit> {
    const id = newSessionId();
    const keepUntil = now + this.settings.keepOldCookieTimeout;
    return andThen(this.store.renew(oldId, id, record, expires, keepUntil), (result) => {
      if (result !== 'ok') return this.refused(result, 'a session renewal');
      this.id = id;
      this.record = record;
      sessionEvents.emit('authenticated', { id, oldId, principal });
      return { setCookies: [setCookie(this.settings, id)] };
    });
  }

  private invalidate(): Maybe<Commit> {
    const id = this.id;
    const cleared = { setCookies: [clearCookie(this.settings)] };
    if (id === null) return cleared;
    return andThen(this.store.remove(id), () => {
      this.id = null;
      this.record = null;
      sessionEvents.emit('invalidated', { id });
      return cleared;
    });
  }

  private refused(result: WriteResult, what: string): Commit {
    const reason =
      result === 'full'
        ? `the session store takes no new session (LimitSessions or SessionMemorySize); ${what} was refused`
        : result === 'frozen'
          ? `the session store takes no change (over 95% of SessionMemorySize); ${what} was refused`
          : result === 'too-large'
            ? `the session is larger than LimitCacheItem; ${what} was refused`
            : `the session ended meanwhile; ${what} was refused`;
    return { status: 503, reason };
  }
}
