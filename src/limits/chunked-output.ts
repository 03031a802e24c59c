// LimitChunk: a response written in chunked encoding goes out in chunks of at most the limit,
// however large the writes of its producer (a backend's reads, a handler's buffers). The
// writers replace write() and end() on a response; a write that fits goes straight through.
import http from 'node:http';

type Chunk = string | Uint8Array;
type Callback = (err?: Error | null) => void;
type Write = (chunk: Chunk, encoding?: BufferEncoding | Callback, cb?: Callback) => boolean;
type End = (chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, cb?: Callback) => http.ServerResponse;

export interface ChunkWriters {
  write: Write;
  end: End;
}

const baseWrite = http.ServerResponse.prototype.write as Write;
const baseEnd = http.ServerResponse.prototype.end as End;

function asBuffer(chunk: Chunk, encoding: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export function chunkWriters(limit: number): ChunkWriters {
  const write: Write = function (this: http.ServerResponse, chunk, encoding, cb) {
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (size <= limit) return baseWrite.call(this, chunk, encoding, cb);
    const buf = asBuffer(chunk, encoding);
    const done = typeof encoding === 'function' ? encoding : cb;
    // Corked, the pieces still go out in one system call; each is its own chunk.
    this.cork();
    let ok = true;
    for (let at = 0; at < buf.length; at += limit) {
      const last = at + limit >= buf.length;
      ok = baseWrite.call(this, buf.subarray(at, at + limit), last ? done : undefined);
      // With a Content-Length there are no chunks to bound: the rest goes as it is.
      if (!last && !this.chunkedEncoding) {
        ok = baseWrite.call(this, buf.subarray(at + limit), done);
        break;
      }
    }
    this.uncork();
    return ok;
  };
  const end: End = function (this: http.ServerResponse, chunk, encoding, cb) {
    // Before the headers, end(data) sends a Content-Length, not chunks.
    if (chunk === undefined || typeof chunk === 'function' || !this.headersSent) return baseEnd.call(this, chunk, encoding, cb);
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (size <= limit) return baseEnd.call(this, chunk, encoding, cb);
    write.call(this, chunk, typeof encoding === 'string' ? encoding : undefined);
    return baseEnd.call(this, typeof encoding === 'function' ? encoding : cb);
  };
  return { write, end };
}
