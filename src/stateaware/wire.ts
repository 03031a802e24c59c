// What travels with a request relayed from one child to the owner of its session, besides the
// client's own request: the client's facts, in one header that the owner reads and removes
// before anything else sees the request. The IPC socket is reachable only by the server's own
// processes (mode 0600 in the runtime directory), so the header is believed there and nowhere else.
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ClientOrigin } from '../proxy/client-origin';

export const ORIGIN_HEADER = 'x-mpmproxy-origin';

/** `address encrypted(0|1) localAddress localPort`, each as the client's connection had it. */
export function originValue(req: http.IncomingMessage): string {
  const s = req.socket;
  const address = s.remoteAddress ?? '';
  return `${address.startsWith('::ffff:') ? address.slice(7) : address} ${(s as TLSSocket).encrypted === true ? 1 : 0} ${s.localAddress ?? '-'} ${s.localPort ?? 0}`;
}

/** Takes the origin header out of a relayed request; null when it has none or a malformed one. */
export function takeOrigin(req: http.IncomingMessage): ClientOrigin | null {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== ORIGIN_HEADER.length || raw[i].toLowerCase() !== ORIGIN_HEADER) continue;
    const parts = raw[i + 1].split(' ');
    raw.splice(i, 2);
    if (parts.length !== 4) return null;
    const port = Number(parts[3]);
    return {
      address: parts[0],
      encrypted: parts[1] === '1',
      localAddress: parts[2] === '-' ? undefined : parts[2],
      localPort: Number.isInteger(port) && port > 0 ? port : undefined,
    };
  }
  return null;
}

/** Headers of the IPC hop's own framing: undici and Node set them for each hop. */
const hopHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'proxy-connection', 'te', 'trailer']);

/** The client's headers as the owner gets them: its own, less the hop's, plus its origin. */
export function relayedRequestHeaders(req: http.IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (!hopHeaders.has(lower) && lower !== ORIGIN_HEADER) out.push(raw[i], raw[i + 1]);
  }
  out.push(ORIGIN_HEADER, originValue(req));
  return out;
}

/** The owner's answer as the client gets it: the same, less the IPC hop's framing. */
export function relayedResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (!hopHeaders.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
  }
  return out;
}
