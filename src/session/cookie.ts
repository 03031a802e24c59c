// The session cookie: found in a request's Cookie header without parsing the others, and
// written as Set-Cookie with the attributes SessionCookieName gave.
import type { SessionSettings } from '../config/session';

/** The value of the first cookie `name` in a Cookie header (several headers arrive joined by
 * Node with '; '), or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  let at = 0;
  while (at < header.length) {
    while (header.charCodeAt(at) === 0x20 || header.charCodeAt(at) === 0x3b) at++;
    const end = header.indexOf(';', at);
    const stop = end < 0 ? header.length : end;
    const eq = header.indexOf('=', at);
    if (eq > 0 && eq < stop && eq - at === name.length && header.startsWith(name, at)) {
      let value = header.slice(eq + 1, stop).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    at = stop + 1;
  }
  return null;
}

function attributes(s: SessionSettings): string {
  const a = s.cookie;
  let text = `; Path=${a.path}`;
  if (a.domain !== null) text += `; Domain=${a.domain}`;
  if (a.httpOnly) text += '; HttpOnly';
  if (a.secure) text += '; Secure';
  if (a.sameSite !== null) text += `; SameSite=${a.sameSite}`;
  return text;
}

/** A session cookie: without Max-Age, so it ends with the browser; the store bounds its life. */
export function setCookie(s: SessionSettings, id: string): string {
  return `${s.cookieName}=${id}${attributes(s)}`;
}

/** Tells the browser to forget the cookie (the session was invalidated or is gone). */
export function clearCookie(s: SessionSettings): string {
  return `${s.cookieName}=${attributes(s)}; Max-Age=0`;
}
