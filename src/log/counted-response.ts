// The response class of the children's HTTP server when an access log is configured: it
// counts the body bytes handed to write() and end(), for %b and %B. Node keeps no such count,
// and the bytes written on the socket also hold the headers and the chunked framing.
import http from 'node:http';
import http2 from 'node:http2';

type Callback = (err?: Error | null) => void;
type H2Callback = (err: Error) => void;

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return (chunk as Uint8Array | null | undefined)?.byteLength ?? 0;
}

function bodyBytes(method: string | undefined, status: number, counted: number): number {
  return method === 'HEAD' || status === 204 || status === 304 || status < 200 ? 0 : counted;
}

export class CountedResponse extends http.ServerResponse {
  private counted = 0;

  /** Body bytes sent: what was written, except to a HEAD request or with a status that has
   * no body, where Node drops the writes. */
  get bodyBytes(): number {
    return bodyBytes(this.req.method, this.statusCode, this.counted);
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

/** The same count for HTTP/2 streams. */
export class CountedH2Response extends http2.Http2ServerResponse {
  private counted = 0;

  get bodyBytes(): number {
    return bodyBytes(this.req.method, this.statusCode, this.counted);
  }

  override write(chunk: string | Uint8Array, encoding?: BufferEncoding | H2Callback, cb?: H2Callback): boolean {
    this.counted += byteLength(chunk, encoding);
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  override end(chunk?: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof chunk !== 'function') this.counted += byteLength(chunk, encoding);
    return super.end(chunk as string, encoding as BufferEncoding, cb);
  }
}
