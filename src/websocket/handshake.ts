// Which requests open a WebSocket, and the response head that opens it.
import type http from 'node:http';

/** A GET that asks to upgrade to websocket and came to us as an upgrade (Node's parser sets
 * `upgrade` only then: the connection is no longer its to read). */
export function isWebSocketUpgrade(req: http.IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return (req as { upgrade?: boolean }).upgrade === true && upgrade !== undefined && upgrade.toLowerCase() === 'websocket';
}

/** The backend's 101 as the client gets it: its status line and every field as it sent them
 * (Upgrade, Connection, Sec-WebSocket-Accept, -Protocol, -Extensions belong to the handshake). */
export function switchingHead(raw: ReadonlyArray<Buffer | string>): Buffer {
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i].toString()}: ${raw[i + 1].toString()}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}
