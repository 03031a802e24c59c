// Sessions (mod_session's names where it has one): identification by cookie, lifetimes,
// renewal on authentication, the store they live in, and what a <Location> asks of them.
import { integer, one, oneOrMore, seconds, serverOnly, serverOrHost, table } from '../directive-spec';
import type { ContextName } from '../types';
import { parseEnum, parseFlag, parseSize, ValueError } from '../values';

const hostOrLocation: readonly ContextName[] = [...serverOrHost, 'location'];

/** The cookie's attributes as Set-Cookie writes them. */
export interface CookieAttributes {
  path: string;
  domain: string | null;
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'Strict' | 'Lax' | 'None' | null;
}

export interface CookieNameValue {
  name: string;
  attributes: CookieAttributes;
}

const sameSiteNames = { strict: 'Strict', lax: 'Lax', none: 'None' } as const;

// RFC 6265's cookie-name is a token.
const cookieToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `SessionCookieName name [attributes]`, the attributes written as mod_session writes them
 * (`path=/;httponly;secure;samesite=lax`) or as separate words. Without any: Path=/, HttpOnly,
 * SameSite=Lax.
 */
function cookieName(args: readonly string[]): CookieNameValue {
  const name = args[0];
  if (!cookieToken.test(name)) throw new ValueError(`cookie name must be a token (got ${JSON.stringify(name)})`);
  const words = args.slice(1).flatMap((a) => a.split(';')).map((w) => w.trim()).filter((w) => w !== '');
  if (words.length === 0) return { name, attributes: { path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'Lax' } };
  const a: CookieAttributes = { path: '/', domain: null, httpOnly: false, secure: false, sameSite: null };
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : word.slice(eq + 1);
    if (key === 'httponly' && eq < 0) a.httpOnly = true;
    else if (key === 'secure' && eq < 0) a.secure = true;
    else if (key === 'path' && value.startsWith('/') && !/[;\s]/.test(value)) a.path = value;
    else if (key === 'domain' && /^\.?[A-Za-z0-9.-]+$/.test(value)) a.domain = value;
    else if (key === 'samesite') a.sameSite = sameSiteNames[parseEnum(value, ['strict', 'lax', 'none'] as const, 'SameSite')];
    else throw new ValueError(`${JSON.stringify(word)}: attributes are HttpOnly, Secure, SameSite=Strict|Lax|None, Path=/path, Domain=name`);
  }
  if (a.sameSite === 'None' && !a.secure) throw new ValueError('SameSite=None needs Secure (browsers drop such a cookie otherwise)');
  return { name, attributes: a };
}

/** `SessionRequire 401` or `SessionRequire /login` (a path or an http(s) URL to redirect to). */
export type SessionRequireValue = { kind: 'status' } | { kind: 'redirect'; location: string } | { kind: 'off' };

function sessionRequire(args: readonly string[]): SessionRequireValue {
  const v = args[0];
  if (v === '401') return { kind: 'status' };
  if (v.toLowerCase() === 'off') return { kind: 'off' };
  if (v.startsWith('/') || /^https?:\/\/[^\s]+$/i.test(v)) return { kind: 'redirect', location: v };
  throw new ValueError(`must be 401, off, a path or an http(s) URL to redirect to (got ${JSON.stringify(v)})`);
}

/** `SessionRequestHeader attribute [Header-Name]`: an attribute (or `principal`, `id`) sent to backends. */
export interface SessionRequestHeaderValue {
  attribute: string;
  header: string;
}

const attributeName = /^[A-Za-z0-9_-]{1,64}$/;

function requestHeader(args: readonly string[]): SessionRequestHeaderValue {
  const attribute = args[0].toLowerCase();
  if (!attributeName.test(attribute)) throw new ValueError(`attribute names are letters, digits, - and _ (got ${JSON.stringify(args[0])})`);
  const header = args[1] ?? `X-Session-${attribute}`;
  if (!cookieToken.test(header)) throw new ValueError(`${JSON.stringify(header)} is not a header name`);
  return { attribute, header };
}

function origin(text: string): string {
  if (text === '*') return text;
  if (!URL.canParse(text)) throw new ValueError(`must be an origin such as https://app.example (got ${JSON.stringify(text)})`);
  const u = new URL(text);
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search !== '' || text.endsWith('/')) {
    throw new ValueError(`must be an origin such as https://app.example, without a path (got ${JSON.stringify(text)})`);
  }
  return u.origin;
}

function mariadbUrl(args: readonly string[]): string {
  const text = args[0];
  if (!URL.canParse(text) || !/^mariadb:$/i.test(new URL(text).protocol)) {
    throw new ValueError(`must be a URL such as mariadb://user:password@host:3306/database (got ${JSON.stringify(text)})`);
  }
  const u = new URL(text);
  if (u.pathname.length < 2) throw new ValueError('the URL names no database (mariadb://user@host/database)');
  return text;
}

export type SessionStoreName = 'shm' | 'sqlite' | 'mariadb';

export const sessionDirectives = table({
  Session: {
    module: 'session', contexts: hostOrLocation, arity: one,
    syntax: 'Session On|Off', default: 'Off',
    summary: 'Enables sessions on the proxied paths it covers: the cookie is read, the store consulted, backends drive the session through response headers',
    parse: (args) => parseFlag(args[0]),
  },
  SessionStore: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionStore shm|sqlite|mariadb', default: 'shm',
    summary: 'Where sessions live: the shared cache segment, an SQLite file, or a MariaDB database shared by several instances',
    parse: (args) => parseEnum(args[0].toLowerCase(), ['shm', 'sqlite', 'mariadb'] as const, 'store'),
  },
  SessionCookieName: {
    module: 'session', contexts: serverOnly, arity: [1, Infinity],
    syntax: 'SessionCookieName name [attributes]', default: 'mpmproxy_session Path=/;HttpOnly;SameSite=Lax',
    summary: 'Name of the session cookie and its attributes (HttpOnly, Secure, SameSite=, Path=, Domain=)',
    parse: cookieName,
  },
  SessionMaxAge: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionMaxAge duration', default: '30mins',
    summary: "A session unused this long ends: as mod_session's, each request moves its expiry forward (Apache's default 0, never, is not offered)",
    parse: seconds({ positive: true }),
  },
  SessionMaxLifetime: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionMaxLifetime duration', default: '8hours (0: no absolute bound)',
    summary: 'A session ends this long after it was created, however busy (absolute timeout)',
    parse: seconds(),
  },
  SessionExpiryUpdateInterval: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionExpiryUpdateInterval duration', default: '60secs (at most half of SessionMaxAge)',
    summary: 'A request that changes nothing writes the session\'s last-use time back only when it is older than this',
    parse: seconds(),
  },
  SessionRenewOnAuthentication: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionRenewOnAuthentication On|Off', default: 'On',
    summary: 'Issues a new session id when a session becomes authenticated, so an id known before login is worthless after it',
    parse: (args) => parseFlag(args[0]),
  },
  SessionKeepOldCookieTimeout: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionKeepOldCookieTimeout duration', default: '5secs',
    summary: 'How long the id replaced by a renewal still reaches the session, for requests sent in parallel with the login',
    parse: seconds(),
  },
  SessionOnInvalidCookie: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionOnInvalidCookie new|409', default: 'new',
    summary: 'A cookie naming no live session: go on without a session (a new one is made when the backend stores something), or answer 409 so the client retries with its new cookie',
    parse: (args) => parseEnum(args[0].toLowerCase(), ['new', '409'] as const),
  },
  SessionRequire: {
    module: 'session', contexts: ['location'], arity: one,
    syntax: 'SessionRequire 401|/login-path|URL|off', default: 'off',
    summary: 'Requests without an authenticated session are answered 401, or redirected (302) to the login page given',
    parse: sessionRequire,
  },
  SessionRequestHeader: {
    module: 'session', contexts: hostOrLocation, arity: [1, 2],
    syntax: 'SessionRequestHeader attribute|principal|id [Header-Name]', default: 'none',
    summary: 'Sends a session attribute to backends as a request header (X-Session-<attribute> unless named); the same header from a client is removed',
    parse: requestHeader,
  },
  SessionCSRFProtect: {
    module: 'session', contexts: hostOrLocation, arity: one,
    syntax: 'SessionCSRFProtect On|Off', default: 'Off',
    summary: 'State-changing requests (POST, PUT, PATCH, DELETE) must carry an Origin or Referer from an allowed origin; others are answered 403',
    parse: (args) => parseFlag(args[0]),
  },
  SessionCSRFAllowedOrigin: {
    module: 'session', contexts: hostOrLocation, arity: oneOrMore,
    syntax: 'SessionCSRFAllowedOrigin origin...', default: 'the request\'s own scheme and Host',
    summary: 'Origins (https://app.example) whose pages may send state-changing requests when SessionCSRFProtect is on',
    parse: (args) => args.map(origin),
  },
  SessionMemorySize: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionMemorySize size', default: 'LimitCache, or 16M when LimitCache is 0',
    summary: 'Share of the shared cache segment the shm store may fill (70% notice, 90% no new sessions, 95% no changes)',
    parse: (args) => parseSize(args[0]),
  },
  SessionSQLiteFile: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionSQLiteFile path', default: 'DefaultRuntimeDir/sessions.sqlite',
    summary: 'The sqlite store\'s database file (WAL mode, shared by every child, kept across stops)',
    parse: (args) => args[0],
  },
  SessionDBConnect: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionDBConnect mariadb://user:password@host[:port]/database[?socketPath=/path]', default: 'none',
    summary: 'The MariaDB database of the mariadb store',
    parse: mariadbUrl,
  },
  SessionDBPoolSize: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionDBPoolSize count', default: '4',
    summary: 'Connections to MariaDB each child keeps (the pool of one child)',
    parse: integer({ min: 1, max: 1000 }),
  },
  SessionDBRetriesOnLockWaitTimeout: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionDBRetriesOnLockWaitTimeout count', default: '3',
    summary: 'Times a session transaction that hit a lock-wait timeout (error 1205) is retried before the request fails with 503',
    parse: integer({ min: 0, max: 100 }),
  },
  SessionDBTimeout: {
    module: 'session', contexts: serverOnly, arity: one,
    syntax: 'SessionDBTimeout duration', default: '5secs',
    summary: 'Longest wait for a MariaDB connection or a statement (and the session\'s innodb_lock_wait_timeout); then the request fails with 503',
    parse: seconds({ positive: true }),
  },
});
