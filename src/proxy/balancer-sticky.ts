// Sticky sessions as mod_proxy_balancer reads them: the session id in a URL parameter
// (`;jsessionid=abc.route1` or `?jsessionid=...`) or else in a cookie (`JSESSIONID=abc.route1`),
// whose part after the separator names the member's route=. Runs per request, so it scans the
// strings in place instead of splitting them.
import type http from 'node:http';
import type { StickySession } from '../config/directives/balancer';

// Where locate() found the value; module state rather than a returned object, to allocate nothing.
let valueStart = 0;
let valueEnd = 0;

const SEMICOLON = 59;
const SPACE = 32;
const QUOTE = 34;
const AMPERSAND = 38;
const QUESTION = 63;
const HASH = 35;
const EQUALS = 61;

/** `name=value` in a Cookie header: name at the start or after `;` and blanks. */
function locateCookie(text: string, name: string): boolean {
  for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
    const before = i === 0 ? SEMICOLON : text.charCodeAt(i - 1);
    if ((before !== SEMICOLON && before !== SPACE) || text.charCodeAt(i + name.length) !== EQUALS) continue;
    valueStart = i + name.length + 1;
    valueEnd = text.indexOf(';', valueStart);
    if (valueEnd < 0) valueEnd = text.length;
    while (valueEnd > valueStart && text.charCodeAt(valueEnd - 1) === SPACE) valueEnd--;
    if (valueEnd - valueStart >= 2 && text.charCodeAt(valueStart) === QUOTE && text.charCodeAt(valueEnd - 1) === QUOTE) {
      valueStart++;
      valueEnd--;
    }
    return true;
  }
  return false;
}

/** `name=value` after `;`, `?` or `&` in a request target. */
function locateParam(text: string, name: string): boolean {
  for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
    const before = i === 0 ? 0 : text.charCodeAt(i - 1);
    if ((before !== SEMICOLON && before !== QUESTION && before !== AMPERSAND) || text.charCodeAt(i + name.length) !== EQUALS) continue;
    valueStart = i + name.length + 1;
    valueEnd = valueStart;
    while (valueEnd < text.length) {
      const c = text.charCodeAt(valueEnd);
      if (c === SEMICOLON || c === AMPERSAND || c === QUESTION || c === HASH) break;
      valueEnd++;
    }
    return true;
  }
  return false;
}

export interface Routed {
  readonly spec: { readonly route: string };
}

/** The member whose route= the request's session names, or null when it names none. */
export function sessionMember<M extends Routed>(
  req: http.IncomingMessage,
  sticky: StickySession,
  separator: string,
  members: readonly M[],
): M | null {
  let text = req.url ?? '';
  if (!locateParam(text, sticky.param)) {
    text = req.headers.cookie ?? '';
    if (!locateCookie(text, sticky.cookie)) return null;
  }
  const sep = text.indexOf(separator, valueStart);
  if (sep < 0 || sep >= valueEnd) return null;
  const routeStart = sep + 1;
  const length = valueEnd - routeStart;
  for (const m of members) {
    const route = m.spec.route;
    if (route.length === length && length > 0 && text.startsWith(route, routeStart)) return m;
  }
  return null;
}
