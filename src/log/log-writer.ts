// A buffered, asynchronous writer for access-log lines. Lines are gathered into a string and
// encoded into a buffer a few kilobytes at a time (one encoding call per line costs more than
// the line's formatting saves elsewhere); the buffer goes out in one write(2) from libuv's thread pool when it holds
// FLUSH_BYTES or FLUSH_MS after its first line, whichever comes first, so the event loop never
// waits on the disk and a busy server makes a few large writes instead of one a request. While
// a write is on its way, new lines fill a second buffer. Lines are never split between writes:
//  - to a regular file opened O_APPEND each write lands whole after what any other process
//    wrote, so children sharing a log never tear each other's lines;
//  - to a pipe (stderr under systemd) a write is atomic only up to PIPE_BUF, so the buffer goes
//    out in pieces of whole lines no longer than that.
import fs from 'node:fs';
import { flushOnExit, log } from './logger';

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 250;
const BUFFER_BYTES = 2 * FLUSH_BYTES;
/** Characters gathered before they are encoded into the buffer. */
const ENCODE_CHARS = 4096;
/** What a slow disk may leave waiting in memory before lines are dropped (and counted). */
const MAX_BUFFERED = 16 * 1024 * 1024;
const PIPE_BUF = 4096;
/** How long a full pipe is left to drain before the write is tried again. */
const RETRY_MS = 20;
/** How long an exiting process waits for a full pipe before its last lines are given up. */
const EXIT_WAIT_MS = 1000;
/** A UTF-16 unit of a line is at most three bytes of UTF-8. */
const MAX_BYTES_PER_CHAR = 3;

const nap = new Int32Array(new SharedArrayBuffer(4));

export class LogWriter {
  /** Lines not encoded yet. */
  private text = '';
  private buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  /** The buffer being written, and a free one to take over when that is done. */
  private writing: Buffer | null = null;
  private spare: Buffer | null = null;
  /** What is left of `writing` to write, in pieces of whole lines; the first is in flight. */
  private pieces: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private failing: string | null = null;
  private drained: Array<() => void> = [];
  private readonly pieceBytes: number;

  /** `name` (the path or 'stderr') is for messages only. */
  constructor(
    private readonly fd: number,
    private readonly name: string,
  ) {
    this.pieceBytes = fs.fstatSync(fd).isFile() ? Infinity : PIPE_BUF;
    // Lines of a request that ends after close() (a connection cut at stop) still go out.
    flushOnExit(() => this.flushSync());
  }

  write(line: string): void {
    this.text += line;
    if (this.text.length >= ENCODE_CHARS) this.encode();
    if (this.writing !== null) return;
    if (this.used >= FLUSH_BYTES) this.flush();
    else if (this.timer === null) this.arm();
  }

  /** Starts writing what is buffered, unless a write is already on its way. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing !== null) return;
    this.encode();
    if (this.used === 0) {
      for (const resolve of this.drained.splice(0)) resolve();
      return;
    }
    this.writing = this.buffer;
    this.pieces = this.split(this.buffer.subarray(0, this.used));
    this.buffer = this.spare ?? Buffer.allocUnsafe(BUFFER_BYTES);
    this.spare = null;
    this.used = 0;
    this.sendFirst();
  }

  /** Writes everything out; resolves once it is written (at the end of a graceful drain). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.drained.push(resolve);
      this.flush();
    });
  }

  /** Writes what is buffered now, blocking: only just before the process exits. A write
   * already in flight lands on its own, so its lines may follow these. */
  flushSync(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.encode();
    const waiting = [...this.pieces.splice(1), ...this.split(this.buffer.subarray(0, this.used))];
    this.used = 0;
    const giveUp = Date.now() + EXIT_WAIT_MS;
    for (const data of waiting) {
      for (let at = 0; at < data.length; ) {
        try {
          at += fs.writeSync(this.fd, data, at);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code !== 'EAGAIN' || Date.now() > giveUp) return this.failed(e);
          Atomics.wait(nap, 0, 0, 1);
        }
      }
    }
  }

  /** Moves the gathered lines into the buffer; drops them (counted) past MAX_BUFFERED. */
  private encode(): void {
    if (this.text === '') return;
    const most = this.text.length * MAX_BYTES_PER_CHAR;
    if (this.used + most > this.buffer.length && !this.grow(most)) {
      this.dropped += countLines(this.text);
    } else {
      this.used += this.buffer.write(this.text, this.used);
    }
    this.text = '';
  }

  /** Room for `more` bytes while a slow write holds the other buffer; false past MAX_BUFFERED. */
  private grow(more: number): boolean {
    const size = Math.max(this.buffer.length * 2, this.used + more);
    if (size > MAX_BUFFERED) return false;
    const bigger = Buffer.allocUnsafe(size);
    this.buffer.copy(bigger, 0, 0, this.used);
    this.buffer = bigger;
    return true;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** One piece for a file; whole lines up to PIPE_BUF a piece for a pipe. */
  private split(data: Buffer): Buffer[] {
    const pieces: Buffer[] = [];
    let start = 0;
    while (data.length - start > this.pieceBytes) {
      let cut = data.lastIndexOf(0x0a, start + this.pieceBytes - 1) + 1;
      // A line longer than PIPE_BUF goes alone; nothing can keep it whole on a pipe.
      if (cut <= start) cut = data.indexOf(0x0a, start) + 1 || data.length;
      pieces.push(data.subarray(start, cut));
      start = cut;
    }
    if (start < data.length) pieces.push(data.subarray(start));
    return pieces;
  }

  private sendFirst(): void {
    const data = this.pieces[0];
    fs.write(this.fd, data, 0, data.length, null, (err, written) => this.written(err, written));
  }

  private written(err: NodeJS.ErrnoException | null, written: number): void {
    if (err?.code === 'EAGAIN') {
      // A full pipe: its reader (the journal) catches up shortly.
      setTimeout(() => this.sendFirst(), RETRY_MS).unref();
      return;
    }
    if (err) this.failed(err);
    else if (written < this.pieces[0].length) {
      this.pieces[0] = this.pieces[0].subarray(written);
      return this.sendFirst();
    } else this.recovered();
    this.pieces.shift();
    if (this.pieces.length > 0) return this.sendFirst();
    if ((this.writing as Buffer).length === BUFFER_BYTES) this.spare = this.writing;
    this.writing = null;
    if (this.dropped > 0) {
      log('log').error({ log: this.name, dropped: this.dropped }, 'access log lines dropped: the log is not keeping up');
      this.dropped = 0;
    }
    if (this.used >= FLUSH_BYTES || this.drained.length > 0) this.flush();
    else if ((this.used > 0 || this.text !== '') && this.timer === null) this.arm();
  }

  /** Logs the first failure of a run of them (a full disk fails every write); the lines are lost. */
  private failed(err: NodeJS.ErrnoException): void {
    const code = err.code ?? err.message;
    if (this.failing === code) return;
    this.failing = code;
    log('log').error({ log: this.name, err: err.message }, 'cannot write the access log; its lines are lost until it can');
  }

  private recovered(): void {
    if (this.failing === null) return;
    this.failing = null;
    log('log').notice({ log: this.name }, 'writing the access log again');
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) n++;
  return n;
}
