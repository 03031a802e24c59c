// Where a request came from, when that is not its own socket: a request relayed from another
// child over a state-aware IPC socket (src/stateaware/) carries its client's facts with it, and
// the routing and the backend headers must use those, not the Unix socket's.
import type http from 'node:http';

export interface ClientOrigin {
  /** The client's address, IPv4-mapped IPv6 written as IPv4. */
  address: string;
  encrypted: boolean;
  /** The address and port the client connected to, for virtual host selection. */
  localAddress: string | undefined;
  localPort: number | undefined;
}

const kOrigin = Symbol('origin');
type WithOrigin = http.IncomingMessage & { [kOrigin]?: ClientOrigin };

export function setClientOrigin(req: http.IncomingMessage, origin: ClientOrigin): void {
  (req as WithOrigin)[kOrigin] = origin;
}

/** The relayed client's facts, or undefined for a request that came on its own connection. */
export function clientOriginOf(req: http.IncomingMessage): ClientOrigin | undefined {
  return (req as WithOrigin)[kOrigin];
}
