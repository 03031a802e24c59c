// How a request names its session, and the session key in the owner table. The session is the
// value of the cookie SessionCookieName names: read from the request's Cookie header, or from
// the backend's Set-Cookie when the response that makes a session state-aware also starts it
// (a login).
import { createHash } from 'node:crypto';
import type { OwnerKey } from '../shm/owners';

/** The value of cookie `name` in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  let at = 0;
  while (at < header.length) {
    const end = header.indexOf(';', at);
    const stop = end < 0 ? header.length : end;
    while (header.charCodeAt(at) === 0x20) at++;
    if (header.startsWith(name, at) && header.charCodeAt(at + name.length) === 0x3d) {
      const value = header.slice(at + name.length + 1, stop).trim();
      return value === '' ? null : value;
    }
    at = stop + 1;
  }
  return null;
}

const setCookie = 'set-cookie';

/** The value a response's Set-Cookie gives cookie `name`, or null; raw headers as undici gives them. */
export function setCookieValue(raw: readonly Buffer[], name: string): string | null {
  for (let i = 0; i < raw.length; i += 2) {
    const header = raw[i];
    if (header.length !== setCookie.length || header.toString('latin1').toLowerCase() !== setCookie) continue;
    const line = raw[i + 1].toString('latin1');
    const eq = line.indexOf('=');
    if (eq < 0 || line.slice(0, eq).trim() !== name) continue;
    const semi = line.indexOf(';', eq);
    const value = line.slice(eq + 1, semi < 0 ? line.length : semi).trim();
    return value === '' ? null : value;
  }
  return null;
}

/** 128 bits of SHA-256: the table never holds the session's value itself. */
export function ownerKey(key: string): OwnerKey {
  const digest = createHash('sha256').update(key).digest();
  return new Int32Array(digest.buffer, digest.byteOffset, 4).slice();
}

/** A name for a session in log lines that does not give its cookie away. */
export function sessionLabel(key: OwnerKey): string {
  return (key[0] >>> 0).toString(16).padStart(8, '0');
}
