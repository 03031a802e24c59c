// An HTTP/2 request as the HTTP/1.1 path reads it (RFC 9113 §8.3.1, §8.2.3): its pseudo-header
// fields become what HTTP/1.1 says with the request line and Host; cookie fields, which HTTP/2
// sends one per crumb, are joined into one; `socket` is the client's own connection, so that
// addresses, accounting and logs find it as they find an HTTP/1.1 request's.
import type net from 'node:net';
import type { Http2ServerRequest } from 'node:http2';

export function viewAsHttp1(req: Http2ServerRequest, socket: net.Socket): void {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let authority: string | undefined;
  let cookie: string | undefined;
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') authority = value;
      continue;
    }
    // Node hands HTTP/2 field names in lower case (HTTP/2 requires it).
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === 'host') host = true;
    out.push(name, value);
  }
  if (cookie !== undefined) out.push('cookie', cookie);
  if (!host && authority !== undefined) {
    out.push('host', authority);
    req.headers.host = authority;
  }
  Object.defineProperty(req, 'rawHeaders', { value: out });
  Object.defineProperty(req, 'socket', { value: socket });
}
