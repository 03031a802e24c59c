// A proxied WebSocket handshake: the request goes to the backend as any other (same member,
// pool, TLS and timeouts) with Upgrade: websocket. A backend that refuses answers through the
// Exchange as usual; one that switches protocols hands over its socket, and the client's
// connection and that socket become a tunnel.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { Exchange } from '../proxy/exchange';
import { switchingHead } from './handshake';
import type { WebSocketTunnels } from './tunnels';

export class UpgradeExchange extends Exchange {
  constructor(
    private readonly tunnels: WebSocketTunnels,
    ...args: ConstructorParameters<typeof Exchange>
  ) {
    super(...args);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, backend: Duplex): void {
    this.switched();
    const res = this.res;
    res.statusCode = statusCode;
    res.detachSocket(this.socket);
    this.tunnels.start(this.socket, backend as net.Socket, switchingHead(headers ?? []));
    // The request is over (logged, its slot free); its connection now carries the WebSocket.
    res.emit('close');
  }
}
