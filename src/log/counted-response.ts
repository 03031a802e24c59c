// The response class of the children's HTTP server when an access log is configured: it
// counts the body bytes handed to write() and end(), for %b and %B. Node keeps no such count,
// and the bytes written on the socket also hold the headers and the chunked framing.
import http from 'node:http';

type Callback = (err?: Error | null) => void;

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return (chunk as Uint8Array | null | undefined)?.byteLength ?? 0;
}

export class CountedResponse extends http.ServerResponse {
  private counted = 0;

  /** Body bytes sent: what was written, except to a HEAD request or with a status that has
   * no body, where Node drops the writes. */
  get bodyBytes(): number {
    const s = this.statusCode;
    return this.req.method === 'HEAD' || s === 204 || s === 304 || s < 200 ? 0 : this.counted;
  }

  override write(chunk: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    this.counted += byteLength(chunk, encoding);
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  override end(chunk?: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof chunk !== 'function') this.counted += byteLength(chunk, encoding);
    return super.end(chunk, encoding as BufferEncoding, cb);
  }
}
