// The undici dispatcher of one backend in one serving event loop: a keep-alive Pool of at most
// max= connections (requests beyond them queue for a free one, as nevisProxy's
// KeepAlive.ConnectionPoolSize), reached directly or through a ProxyRemote proxy.
import type { LookupFunction } from 'node:net';
import { buildConnector, Client, Pool, ProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import type { BackendSpec } from '../config/upstreams';
import { backendTlsOptions } from './backend-tls';
import type { DnsCache } from './dns-cache';

/** undici's own default, for backends that do not say how long they keep a connection. */
const DEFAULT_IDLE_MS = 4000;

function connectOptions(spec: BackendSpec, lookup: LookupFunction): buildConnector.BuildOptions {
  return {
    timeout: spec.connectTimeout,
    // Apache's keepalive= is TCP keep-alive probes on idle backend connections.
    keepAlive: spec.tcpKeepAlive,
    lookup,
    ...(spec.tls && backendTlsOptions(spec.tls)),
  };
}

export interface DispatcherUse {
  /** A health probe's: one connection, never reused, so each probe tests connecting. */
  probe?: boolean;
  /** A state-aware session's private connection (src/stateaware/): one connection, kept idle
   * up to this many milliseconds unless the backend closes it first. */
  privateIdleMs?: number;
}

export function backendDispatcher(spec: BackendSpec, dns: DnsCache, use: DispatcherUse = {}): Dispatcher {
  const lookup = dns.lookupFor(spec.dnsTtl);
  const connect = connectOptions(spec, lookup);
  const own = use.privateIdleMs;
  const client: Client.Options = {
    headersTimeout: spec.timeout,
    bodyTimeout: spec.timeout,
    keepAliveTimeout: own ?? spec.ttl ?? DEFAULT_IDLE_MS,
    ...(own !== undefined ? { keepAliveMaxTimeout: own } : spec.ttl !== null && { keepAliveMaxTimeout: spec.ttl }),
    // pipelining 0 is undici's "close after each response".
    pipelining: use.probe || spec.disableReuse ? 0 : 1,
    connect,
  };
  const pool: Pool.Options = { ...client, connections: use.probe || own !== undefined ? 1 : spec.max };
  if (spec.remote === null) {
    // A private connection is one Client: a Pool of one would add its queue and drain events
    // to every request of the session.
    return own !== undefined ? new Client(spec.origin, client) : new Pool(spec.origin, pool);
  }
  const { credentials } = spec.remote;
  const agent = new ProxyAgent({
    uri: spec.remote.url,
    ...(credentials !== null && { token: `Basic ${Buffer.from(credentials).toString('base64')}` }),
    // As Apache's ProxyRemote: https backends through a CONNECT tunnel, http ones as
    // absolute-URI requests to the proxy.
    proxyTunnel: spec.origin.startsWith('https:'),
    requestTls: connect,
    proxyTls: { timeout: spec.connectTimeout, lookup },
    factory: (origin, opts) => new Pool(origin, { ...pool, connect: (opts as Pool.Options).connect }),
  });
  // The request path dispatches to a backend's own pool, which needs no origin; an agent does.
  const origin = spec.origin;
  return agent.compose((dispatch) => (opts, handler) => dispatch({ ...opts, origin }, handler));
}

/** Opens and closes one connection to the backend (hcmethod=TCP), TLS handshake included. */
export function tcpConnector(spec: BackendSpec, dns: DnsCache): (done: (err: Error | null) => void) => void {
  const connect = buildConnector(connectOptions(spec, dns.lookupFor(spec.dnsTtl)));
  const url = new URL(spec.origin);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const target = { hostname, host: url.host, protocol: url.protocol, port: url.port };
  return (done) =>
    connect(target, (err, socket) => {
      socket?.destroy();
      done(err);
    });
}
