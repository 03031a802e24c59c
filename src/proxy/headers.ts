// Header rules of a reverse proxy (RFC 9110 §7.6.1): hop-by-hop headers stop here, and the
// backend learns who the client was through X-Forwarded-* and Via.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Names listed in a Connection header are hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  const list = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  for (const token of list.split(',')) {
    const name = token.trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || listed?.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export interface ForwardedFacts {
  clientAddress: string;
  proto: 'http' | 'https';
  host: string | undefined;
}

export const VIA = '1.1 mpmproxy';

export function addForwarded(out: OutgoingHttpHeaders, f: ForwardedFacts): void {
  const prior = out['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${f.clientAddress}` : f.clientAddress;
  out['x-forwarded-proto'] = f.proto;
  if (f.host) out['x-forwarded-host'] = f.host;
  const via = out.via;
  out.via = via ? `${String(via)}, ${VIA}` : VIA;
}
