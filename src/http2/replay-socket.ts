// A client connection whose first bytes were read already (to tell HTTP/2 from HTTP/1.1), as
// Node's HTTP/2 session is given it. A session reads a net.Socket natively and would never see
// bytes read before it; given any other stream, Node wraps it in its JavaScript stream handle and
// reads it through this class, which gives those bytes first (`rewrite` may add to what flows
// in, for the h2c upgrade) and then the socket's, and writes straight to the socket.
import type net from 'node:net';
import { Duplex } from 'node:stream';

export type Rewrite = (chunk: Buffer) => Buffer;

export class ReplaySocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    head: Buffer,
    private rewrite: Rewrite | null,
  ) {
    super({ allowHalfOpen: false });
    this.forward(head);
    socket.on('data', (chunk: Buffer) => {
      if (!this.forward(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    const socket = this.socket;
    socket.cork();
    let ok = true;
    for (const c of chunks) ok = socket.write(c.chunk);
    socket.uncork();
    if (ok) done();
    else socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }

  /** What comes in from now on passes as it is. */
  stopRewriting(): void {
    this.rewrite = null;
  }

  private forward(chunk: Buffer): boolean {
    const bytes = this.rewrite === null ? chunk : this.rewrite(chunk);
    return bytes.length === 0 || this.push(bytes);
  }
}
