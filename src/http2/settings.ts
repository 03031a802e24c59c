// The `protocols` part of Settings: which HTTP versions are served, and the guards that come
// with HTTP/2 and WebSocket tunnels.
import { directives, type DirectiveSpec } from '../config/directives';
import type { ProtocolSettings } from '../config/types';

type Value = <V>(spec: DirectiveSpec<V>) => V | undefined;

/** nginx closes a connection after 2 × its 128 concurrent streams of resets in one read; httpd
 * lowers a connection's allowance as its resets mount. A count over a window says the same in
 * one rule a browser that cancels a page's requests never reaches. */
const defaultResets = { count: 100, intervalMs: 10_000 };

export function resolveProtocols(value: Value, timeout: number): ProtocolSettings {
  const protocols = value(directives.Protocols) ?? ['http/1.1'];
  const resets = value(directives.H2MaxResets) ?? defaultResets;
  return {
    h2: protocols.includes('h2'),
    h2c: protocols.includes('h2c'),
    maxResets: resets.count,
    resetIntervalMs: resets.intervalMs,
    webSocketIdleTimeout: value(directives.ProxyWebsocketIdleTimeout) ?? timeout,
  };
}

/** The protocols' lines of `mpmproxy -V`. */
export function protocolsReport(p: ProtocolSettings): Array<[string, string]> {
  const names = [p.h2 ? 'h2' : '', p.h2c ? 'h2c' : '', 'http/1.1'].filter((n) => n !== '');
  return [
    ['Protocols', names.join(' ')],
    ['H2MaxResets', `${p.maxResets} ${p.resetIntervalMs / 1000}s`],
    ['ProxyWebsocketIdleTimeout', `${p.webSocketIdleTimeout / 1000}s`],
  ];
}
