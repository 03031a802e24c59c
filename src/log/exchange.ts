// What the access log knows about one request once its response has ended: the record every
// format item reads.
import type http from 'node:http';
import type net from 'node:net';

export type ConnectionState = '+' | '-' | 'X';

export interface Exchange {
  /** Null for a request refused before it was read whole (400, 408, 431). */
  req: http.IncomingMessage | null;
  res: http.ServerResponse | null;
  socket: net.Socket;
  status: number;
  /** When the request arrived, in milliseconds since the epoch. */
  startMs: number;
  /** From the arrival of the request to the end of its response. */
  durationUs: number;
  /** Written on the connection for this request, headers and framing included. */
  bytesOut: number;
  /** Body bytes sent (0 for HEAD, 204 and 304). */
  bodyBytes: number;
  /** ServerName of the (virtual) server that answered. */
  serverName: string;
  /** Apache's %X: kept open for another request (+), closed (-), or broken before the response ended (X). */
  connection: ConnectionState;
}

/** An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d; logs show a.b.c.d as httpd does. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '-';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
