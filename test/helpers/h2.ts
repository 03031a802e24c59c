// HTTP/2 client helpers: one request on a session with its whole answer, and the status page's
// <Location> for the daemons these tests start.
import http2 from 'node:http2';

export const STATUS_LOCATION = '<Location /server-status>\n  SetHandler server-status\n</Location>';

export interface H2Result {
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  body: Buffer;
}

/** Sends one request on `session` and reads its answer; rejects on a stream error (with its code). */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let got: H2Result['headers'] | null = null;
    stream.on('response', (h) => (got = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => (got ? resolve({ headers: got, body: Buffer.concat(chunks) }) : reject(new Error('no response headers'))));
    stream.on('error', reject);
    if (body !== undefined) {
      // In pieces, so that the body has no length known in advance.
      for (let at = 0; at < body.length; at += 16_384) stream.write(body.subarray(at, at + 16_384));
      stream.end();
    }
  });
}
