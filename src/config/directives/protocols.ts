// Which protocols clients may speak (core's Protocols, mod_http2's H2* names) and how WebSocket
// tunnels are timed (mod_proxy_wstunnel's name).
import { integer, one, seconds, serverOnly, table } from '../directive-spec';
import { parseDuration, ValueError } from '../values';

export type ProtocolName = 'h2' | 'h2c' | 'http/1.1';

const protocolNames: readonly ProtocolName[] = ['h2', 'h2c', 'http/1.1'];

function protocols(args: readonly string[]): ProtocolName[] {
  const out: ProtocolName[] = [];
  for (const arg of args) {
    const name = protocolNames.find((p) => p === arg.toLowerCase());
    if (name === undefined) throw new ValueError(`unknown protocol ${JSON.stringify(arg)}: expected h2, h2c or http/1.1`);
    if (!out.includes(name)) out.push(name);
  }
  if (!out.includes('http/1.1')) {
    // HTTP/1.1 is how a cleartext connection starts before it upgrades, and what a TLS client
    // without ALPN speaks; httpd serves it whatever the list says.
    throw new ValueError('must include http/1.1 (HTTP/1.1 clients and h2c upgrades start with it)');
  }
  return out;
}

export interface ResetLimit {
  /** Streams the client may reset within `intervalMs`; more closes the connection. */
  count: number;
  intervalMs: number;
}

function resetLimit(args: readonly string[]): ResetLimit {
  const count = integer({ min: 1 })(args);
  const intervalMs = args[1] === undefined ? 10_000 : parseDuration(args[1], { positive: true });
  return { count, intervalMs };
}

export const protocolDirectives = table({
  Protocols: {
    module: 'http2', contexts: serverOnly, arity: [1, 3],
    syntax: 'Protocols protocol ...', default: 'http/1.1',
    summary: 'Protocols clients may use: h2 (HTTP/2 over TLS, chosen by ALPN), h2c (HTTP/2 over cleartext, by prior knowledge or Upgrade: h2c), http/1.1',
    parse: protocols,
  },
  H2MaxResets: {
    module: 'http2', contexts: serverOnly, arity: [1, 2],
    syntax: 'H2MaxResets count [interval]', default: '100 10s',
    summary: 'Most HTTP/2 streams a client may reset (RST_STREAM) on one connection within the interval; one more closes the connection with GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487)',
    parse: resetLimit,
  },
  ProxyWebsocketIdleTimeout: {
    module: 'proxy_wstunnel', contexts: serverOnly, arity: one,
    syntax: 'ProxyWebsocketIdleTimeout duration', default: 'the value of Timeout',
    summary: 'How long a proxied WebSocket may pass no data either way before it is closed (close code 1001 to the client)',
    parse: seconds({ positive: true }),
  },
});
