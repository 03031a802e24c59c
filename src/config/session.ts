// The `session` part of Settings (server-wide: cookie, lifetimes, store) and of each proxied
// route (whether it has sessions, what it requires of them, CSRF, headers to backends), the
// route's merged as proxy options are: server, virtual host, then every <Location> covering it.
import path from 'node:path';
import { ConfigError } from '../errors';
import { directives, lastValue, usesOf, type DirectiveSpec } from './directives';
import type { CookieAttributes, SessionRequestHeaderValue, SessionRequireValue, SessionStoreName } from './directives/session';
import type { Section } from './types';

export interface SessionSettings {
  store: SessionStoreName;
  cookieName: string;
  cookie: CookieAttributes;
  /** milliseconds */
  maxIdle: number;
  /** milliseconds; 0 = no absolute bound */
  maxLifetime: number;
  /** milliseconds */
  expiryUpdateInterval: number;
  renewOnAuthentication: boolean;
  /** milliseconds */
  keepOldCookieTimeout: number;
  onInvalidCookie: 'new' | '409';
  /** bytes of the cache segment the shm store may fill */
  memorySize: number;
  sqliteFile: string;
  dbUrl: string | null;
  dbPoolSize: number;
  dbRetriesOnLockWaitTimeout: number;
  /** milliseconds */
  dbTimeout: number;
  /** LimitSessions; 0 = unlimited */
  limit: number;
  /** Some route has Session On: the master creates the store. */
  used: boolean;
}

/** What one proxied path does with sessions. */
export interface RouteSession {
  enabled: boolean;
  require: SessionRequireValue;
  csrf: boolean;
  /** Empty: the request's own origin only. */
  allowedOrigins: string[];
  headers: SessionRequestHeaderValue[];
}

export const noRouteSession: RouteSession = { enabled: false, require: { kind: 'off' }, csrf: false, allowedOrigins: [], headers: [] };

const DEFAULT_MEMORY = 16 * 2 ** 20;
const DEFAULT_UPDATE_INTERVAL = 60_000;

/** Directives that, in a <Location> below a ProxyPass, give that path a route of its own. */
export const routeSessionDirectives: readonly string[] = [
  directives.Session.name,
  directives.SessionRequire.name,
  directives.SessionCSRFProtect.name,
  directives.SessionCSRFAllowedOrigin.name,
  directives.SessionRequestHeader.name,
];

export function mergeRouteSession(o: RouteSession, section: Section): RouteSession {
  const headers = usesOf(section, directives.SessionRequestHeader).map((u) => u.value);
  const origins = usesOf(section, directives.SessionCSRFAllowedOrigin).flatMap((u) => u.value);
  return {
    enabled: lastValue(section, directives.Session) ?? o.enabled,
    require: lastValue(section, directives.SessionRequire) ?? o.require,
    csrf: lastValue(section, directives.SessionCSRFProtect) ?? o.csrf,
    allowedOrigins: origins.length > 0 ? origins : o.allowedOrigins,
    // A later section naming the same attribute replaces its header.
    headers: [...o.headers.filter((h) => !headers.some((n) => n.attribute === h.attribute)), ...headers],
  };
}

type Value = <V>(spec: DirectiveSpec<V>) => V | undefined;

export function resolveSessionSettings(
  root: Section,
  value: Value,
  o: { runtimeDir: string; fromRoot: (p: string) => string; limitCache: number; limitSessions: number; used: boolean },
): SessionSettings {
  const cookie = value(directives.SessionCookieName);
  const maxIdle = value(directives.SessionMaxAge) ?? 30 * 60_000;
  const store = value(directives.SessionStore) ?? 'shm';
  const dbUrl = value(directives.SessionDBConnect) ?? null;
  const memorySize = value(directives.SessionMemorySize) ?? (o.limitCache > 0 ? o.limitCache : DEFAULT_MEMORY);
  const at = (spec: DirectiveSpec): { file: string; line: number } => {
    const use = root.directives.filter((d) => d.name === spec.name).at(-1);
    return use ?? { file: root.file, line: 0 };
  };
  if (o.used && store === 'mariadb' && dbUrl === null) {
    const use = at(directives.SessionStore);
    throw new ConfigError(use.file, use.line, 'SessionStore', 'mariadb needs SessionDBConnect mariadb://user:password@host/database');
  }
  if (o.limitCache > 0 && memorySize > o.limitCache) {
    const use = at(directives.SessionMemorySize);
    throw new ConfigError(use.file, use.line, 'SessionMemorySize', `${memorySize} bytes do not fit in LimitCache (${o.limitCache} bytes): sessions live in the cache segment`);
  }
  return {
    store,
    cookieName: cookie?.name ?? 'mpmproxy_session',
    cookie: cookie?.attributes ?? { path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'Lax' },
    maxIdle,
    maxLifetime: value(directives.SessionMaxLifetime) ?? 8 * 3600_000,
    expiryUpdateInterval: Math.min(value(directives.SessionExpiryUpdateInterval) ?? DEFAULT_UPDATE_INTERVAL, Math.floor(maxIdle / 2)),
    renewOnAuthentication: value(directives.SessionRenewOnAuthentication) ?? true,
    keepOldCookieTimeout: value(directives.SessionKeepOldCookieTimeout) ?? 5_000,
    onInvalidCookie: value(directives.SessionOnInvalidCookie) ?? 'new',
    memorySize,
    sqliteFile: o.fromRoot(value(directives.SessionSQLiteFile) ?? path.join(o.runtimeDir, 'sessions.sqlite')),
    dbUrl,
    dbPoolSize: value(directives.SessionDBPoolSize) ?? 4,
    dbRetriesOnLockWaitTimeout: value(directives.SessionDBRetriesOnLockWaitTimeout) ?? 3,
    dbTimeout: value(directives.SessionDBTimeout) ?? 5_000,
    limit: o.limitSessions,
    used: o.used,
  };
}

/** The size of the cache segment: LimitCache, or when it is 0 and the shm store is used, the
 * store's SessionMemorySize (the segment exists only when something lives in it). */
export function cacheSegmentSize(limitCache: number, s: SessionSettings): number {
  if (limitCache > 0) return limitCache;
  return s.used && s.store === 'shm' ? s.memorySize : 0;
}
