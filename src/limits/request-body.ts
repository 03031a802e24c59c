// Watches a request body as Node's HTTP parser hands it over, before any reader sees it:
// counts a chunked body against LimitRequestBody, measures the files of a multipart body
// against LimitUpload, and holds a form (LimitRequestForm) until it is whole. The watch sits
// in the stream's push(), where the parser delivers each piece, so that it neither consumes
// the body nor changes how its reader (the backend request) reads it.
import type http from 'node:http';
import { Readable } from 'node:stream';
import type { MultipartScanner } from './multipart';

export interface BodyWatchOptions {
  /** LimitRequestBody for a body of unknown length; 0 = none. */
  bodyLimit: number;
  /** Set for a form: its pieces are held until the body is whole, up to this many bytes. */
  formLimit: number;
  multipart: MultipartScanner | null;
  /** The body went past `limit`; whatever was sent on is to be stopped. */
  onExceeded: (limit: 'LimitRequestBody' | 'LimitRequestForm' | 'LimitUpload') => void;
  /** A held form is whole and back in the stream. */
  onForm: (() => void) | null;
}

interface Watch extends BodyWatchOptions {
  received: number;
  held: Buffer[] | null;
  cut: boolean;
}

const kWatch = Symbol('body watch');
type Watched = http.IncomingMessage & { [kWatch]: Watch };

const push = Readable.prototype.push;

function watchedPush(this: Watched, chunk: Buffer | null): boolean {
  const w = this[kWatch];
  // Past a limit the rest is dropped: the answer is out and the connection closes after it.
  if (w.cut) return true;
  if (chunk === null) {
    const held = w.held;
    if (!held) return push.call(this, null);
    w.held = null;
    for (const piece of held) push.call(this, piece);
    push.call(this, null);
    w.onForm?.();
    return false;
  }
  w.received += chunk.length;
  const over =
    w.bodyLimit !== 0 && w.received > w.bodyLimit
      ? 'LimitRequestBody'
      : w.multipart !== null && !w.multipart.write(chunk)
        ? 'LimitUpload'
        : w.held !== null && w.received > w.formLimit
          ? 'LimitRequestForm'
          : null;
  if (over) {
    w.cut = true;
    w.held = null;
    w.onExceeded(over);
    return true;
  }
  if (w.held) {
    w.held.push(chunk);
    return true;
  }
  return push.call(this, chunk);
}

export function watchBody(req: http.IncomingMessage, o: BodyWatchOptions): void {
  const w: Watch = { ...o, received: 0, held: o.onForm ? [] : null, cut: false };
  (req as Watched)[kWatch] = w;
  (req as { push: unknown }).push = watchedPush;
}
