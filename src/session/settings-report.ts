// The session lines of `mpmproxy -V`: only when some path has sessions, with the store's own
// values (a MariaDB URL's password is not printed).
import type { Settings } from '../config/types';

const seconds = (ms: number): string => `${ms / 1000}s`;

export function sessionReport(s: Settings): Array<[string, string]> {
  const x = s.session;
  if (!x.used) return [['Session', 'Off (no path has Session On)']];
  const lines: Array<[string, string]> = [
    ['SessionStore', x.store],
    ['SessionCookieName', x.cookieName],
    ['SessionMaxAge', seconds(x.maxIdle)],
    ['SessionMaxLifetime', x.maxLifetime === 0 ? '0 (no absolute bound)' : seconds(x.maxLifetime)],
    ['SessionKeepOldCookieTimeout', seconds(x.keepOldCookieTimeout)],
    ['SessionOnInvalidCookie', x.onInvalidCookie],
  ];
  if (x.store === 'shm') lines.push(['SessionMemorySize', `${x.memorySize} bytes of a ${s.cacheSize}-byte cache segment`]);
  if (x.store === 'sqlite') lines.push(['SessionSQLiteFile', x.sqliteFile]);
  if (x.store === 'mariadb' && x.dbUrl !== null) {
    const u = new URL(x.dbUrl);
    u.password = u.password === '' ? '' : '***';
    lines.push(['SessionDBConnect', u.toString()], ['SessionDBPoolSize', String(x.dbPoolSize)], ['SessionDBRetriesOnLockWaitTimeout', String(x.dbRetriesOnLockWaitTimeout)]);
  }
  return lines;
}
