// Test servers end with their test: the connections still open are dropped, so that close()
// does not wait for clients that keep them alive.
import type net from 'node:net';

/** Destroys `sockets` (the server's open connections) and resolves once `server` has closed. */
export function closeServer(server: net.Server, sockets: Iterable<net.Socket>): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}
