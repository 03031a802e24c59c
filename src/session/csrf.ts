// The CSRF check of SessionCSRFProtect: a state-changing request must say where it comes from
// (Origin, or else Referer) and come from an allowed origin; by default the request's own
// scheme and Host, as a same-origin form or fetch sends. Safe methods are never checked.
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

function originOf(text: string): string | null {
  if (!URL.canParse(text)) return null;
  const u = new URL(text);
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
}

/** Why the request fails the check, or null when it passes. */
export function csrfRefusal(req: http.IncomingMessage, allowed: readonly string[]): string | null {
  if (SAFE.has(req.method ?? 'GET')) return null;
  const header = req.headers.origin;
  const claimed = header !== undefined && header !== 'null' ? originOf(header) : req.headers.referer ? originOf(req.headers.referer) : null;
  if (claimed === null) return 'a state-changing request without Origin or Referer';
  if (allowed.includes('*')) return null;
  if (allowed.length > 0) return allowed.includes(claimed) ? null : `origin ${claimed} is not allowed`;
  const host = req.headers.host;
  const scheme = (req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
  const own = host === undefined ? null : originOf(`${scheme}://${host}`);
  return claimed === own ? null : `origin ${claimed} is not this site (${own ?? 'no Host'})`;
}
