// Prior knowledge (RFC 9113 §3.3): on a cleartext connection an HTTP/2 client starts with the
// connection preface where an HTTP/1.1 client starts with a request line. The first bytes tell
// which; no HTTP/1.1 method begins with "PRI * HTTP/2.0".
import type net from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Reads until the first bytes match the preface or differ from it; `head` is what was read,
 * and the socket is left paused. */
export function sniffPreface(socket: net.Socket, done: (h2: boolean, head: Buffer) => void): void {
  let head: Buffer | null = null;
  const onData = (chunk: Buffer): void => {
    head = head === null ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, PREFACE.length);
    const matches = head.compare(PREFACE, 0, n, 0, n) === 0;
    if (matches && head.length < PREFACE.length) return;
    socket.off('data', onData);
    socket.pause();
    done(matches, head);
  };
  socket.on('data', onData);
}
