// Prior knowledge (RFC 9113 §3.3): on a cleartext connection an HTTP/2 client starts with the
// connection preface where an HTTP/1.1 client starts with a request line. The first bytes tell
// which; no HTTP/1.1 method begins with "PRI * HTTP/2.0".
//
// They are looked at in the kernel's queue first (MSG_PEEK): when they are there, the connection
// goes to its server untouched, and an HTTP/2 session reads the socket natively. Only when they
// have not come yet are they read here, and the session then has to be given them through a
// stream of ours (replay-socket.ts).
import type net from 'node:net';
import { peekQueued } from '../native/socket-peek';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** True for the preface, false for anything else, null while the bytes could still be either. */
function isPreface(head: Buffer): boolean | null {
  const n = Math.min(head.length, PREFACE.length);
  if (head.compare(PREFACE, 0, n, 0, n) !== 0) return false;
  return n === PREFACE.length ? true : null;
}

/** What the bytes already queued on the socket say, without taking them; null when too few have come. */
export function peekPreface(socket: net.Socket): boolean | null {
  const head = peekQueued(socket, PREFACE.length);
  return head.length === 0 ? null : isPreface(head);
}

/** Reads until the first bytes match the preface or differ from it; `head` is what was read,
 * and the socket is left paused. */
export function sniffPreface(socket: net.Socket, done: (h2: boolean, head: Buffer) => void): void {
  let head: Buffer | null = null;
  const onData = (chunk: Buffer): void => {
    head = head === null ? chunk : Buffer.concat([head, chunk]);
    const h2 = isPreface(head);
    if (h2 === null) return;
    socket.off('data', onData);
    socket.pause();
    done(h2, head);
  };
  socket.on('data', onData);
}
