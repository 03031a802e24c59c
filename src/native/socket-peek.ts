// Looks at what a Node socket has received and not yet read, in the kernel's queue, without
// taking it: the bytes stay for whoever reads the socket next (Node's own native reader
// included), so deciding on them costs no JavaScript read of the stream.
import type net from 'node:net';
import { loadNative } from './index';

/** The descriptor under a Node socket (Node keeps it on its handle; no public API gives it). */
export function descriptorOf(socket: net.Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** Up to `max` bytes queued on the socket; empty when none has come yet (or it has no
 * descriptor). */
export function peekQueued(socket: net.Socket, max: number): Buffer {
  const fd = descriptorOf(socket);
  return fd === null ? Buffer.alloc(0) : loadNative().peek(fd, max);
}
