// Appweb's sandbox limits on what clients send and hold: connections and clients counted over
// the whole server, the size of each part of a request, the pieces of a response, and
// mod_reqtimeout's RequestReadTimeout against clients that send slowly.
import { integer, one, serverOnly, table } from '../directive-spec';
import type { ReadTimeout, ReadTimeoutStage } from '../types';
import { parseDuration, parseInteger, parseSize, ValueError } from '../values';

/** 0 stands for unlimited in every value below. */
const count = integer({ min: 1, unlimited: 0 });
const size = (args: readonly string[]) => parseSize(args[0], 0);

/** A size of at least `min` bytes: a smaller one would refuse every request or split every byte. */
function sizeFrom(min: number, o: { unlimited: boolean }) {
  return (args: readonly string[]): number => {
    const bytes = parseSize(args[0], o.unlimited ? 0 : undefined);
    if ((o.unlimited && bytes === 0) || bytes >= min) return bytes;
    throw new ValueError(`must be at least ${min} bytes${o.unlimited ? ' or unlimited' : ''} (got ${JSON.stringify(args[0])})`);
  };
}

/** `header=20-40,MinRate=500`: the first stage's time, how far MinRate may stretch it, the rate. */
function readTimeoutStage(text: string): ReadTimeoutStage {
  const [times, ...options] = text.split(',');
  const m = /^(\d+)(?:-(\d+))?$/.exec(times);
  if (!m) throw new ValueError(`${JSON.stringify(text)}: expected seconds or seconds-maxseconds, such as 20-40`);
  const timeout = parseDuration(m[1]);
  const max = m[2] === undefined ? 0 : parseDuration(m[2]);
  let minRate = 0;
  for (const option of options) {
    const o = /^minrate=(.*)$/i.exec(option);
    if (!o) throw new ValueError(`${JSON.stringify(option)}: the only option is MinRate=bytes-per-second`);
    minRate = parseInteger(o[1], { min: 1 });
  }
  if (max !== 0 && max <= timeout) throw new ValueError(`${JSON.stringify(text)}: the maximum must be longer than the first time`);
  if (max !== 0 && minRate === 0) throw new ValueError(`${JSON.stringify(text)}: a maximum needs MinRate to stretch the time to it`);
  return { timeout, max, minRate };
}

function readTimeout(args: readonly string[]): ReadTimeout {
  const value: ReadTimeout = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const stage = eq < 0 ? '' : arg.slice(0, eq).toLowerCase();
    if (stage !== 'header' && stage !== 'body') {
      throw new ValueError(`${JSON.stringify(arg)}: expected header=... or body=... (handshake applies once TLS is served)`);
    }
    const spec = arg.slice(eq + 1);
    value[stage] = spec === '0' ? null : readTimeoutStage(spec);
  }
  return value;
}

export const limitDirectives = table({
  LimitClients: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitClients count|unlimited', default: 'unlimited',
    summary: 'Most client systems (distinct IP addresses) connected at once over the whole server; a connection from one more is closed at accept',
    parse: count,
  },
  LimitConnections: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitConnections count|unlimited', default: 'unlimited',
    summary: 'Most client connections open at once over the whole server; one more is closed at accept',
    parse: count,
  },
  LimitConnectionsPerClient: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitConnectionsPerClient count|unlimited', default: 'unlimited',
    summary: 'Most connections open at once from one client IP address; one more is closed at accept',
    parse: count,
  },
  LimitRequestsPerClient: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitRequestsPerClient count|unlimited', default: 'unlimited',
    summary: 'Most requests in progress at once from one client IP address over the whole server; one more is answered 429',
    parse: count,
  },
  LimitRequestBody: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitRequestBody size|unlimited', default: 'unlimited',
    summary: 'Largest request body: a larger Content-Length is answered 413, a chunked body is cut at the limit',
    parse: size,
  },
  LimitRequestForm: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitRequestForm size|unlimited', default: 'unlimited (forms are streamed, not buffered)',
    summary: 'Largest application/x-www-form-urlencoded body; when set, such bodies are buffered whole before routing, and a larger one is answered 413',
    parse: size,
  },
  LimitUpload: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitUpload size|unlimited', default: 'unlimited',
    summary: 'Largest file in a multipart/form-data request body; the request is cut and answered 413 at the limit',
    parse: size,
  },
  LimitRequestHeader: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitRequestHeader size', default: '16K (Node\'s default; Appweb\'s is 8K)',
    summary: 'Largest request line and header fields together, in bytes; larger is answered 431',
    parse: sizeFrom(1024, { unlimited: false }),
  },
  LimitRequestHeaderLines: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitRequestHeaderLines count|unlimited', default: '100 (Apache\'s LimitRequestFields)',
    summary: 'Most header fields in a request; more are answered 431',
    parse: integer({ min: 1, max: 65535, unlimited: 0 }),
  },
  LimitUri: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitUri size|unlimited', default: '8K',
    summary: 'Longest request URI (path and query); longer is answered 414',
    parse: size,
  },
  LimitKeepAlive: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitKeepAlive count|unlimited', default: 'unlimited',
    summary: 'Most requests on one connection; with MaxKeepAliveRequests the smaller wins',
    parse: count,
  },
  LimitResponseBody: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitResponseBody size|unlimited', default: 'unlimited',
    summary: 'Largest response body mpmproxy builds whole in memory before sending (proxied bodies are streamed, never buffered); larger is answered 500',
    parse: size,
  },
  LimitChunk: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitChunk size|unlimited', default: 'unlimited',
    summary: 'Largest chunk of a chunked response written to a client; larger writes are split',
    parse: sizeFrom(1, { unlimited: true }),
  },
  LimitPacket: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitPacket size', default: 'Node\'s stream default (64K on Node 22, 16K before)',
    summary: 'Buffer size of each stream stage between client and backend (the client socket\'s and the request and response streams\' highWaterMark)',
    parse: sizeFrom(1024, { unlimited: false }),
  },
  LimitSessions: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitSessions count|unlimited', default: 'unlimited',
    summary: 'Most sessions at once in the session store, over the whole server; a new one past it is refused (503)',
    parse: count,
  },
  LimitStreams: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitStreams count', default: '20',
    summary: 'Most HTTP/2 streams at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS); a stream over it is refused with REFUSED_STREAM',
    parse: integer({ min: 1 }),
  },
  LimitWebSocketsMessage: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitWebSocketsMessage size|unlimited', default: 'unlimited',
    summary: 'Largest WebSocket message a client may send (all its frames together); a larger one closes the WebSocket with close code 1009',
    parse: size,
  },
  LimitWebSocketsPacket: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitWebSocketsPacket size|unlimited', default: 'unlimited',
    summary: 'Largest packet of a WebSocket message relayed at once: what is read from a client in a larger piece is written on to the backend in packets of this size',
    parse: size,
  },
  LimitWebSocketsFrame: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitWebSocketsFrame size|unlimited', default: 'unlimited',
    summary: 'Largest WebSocket frame a client may send; a larger one closes the WebSocket with close code 1009',
    parse: size,
  },
  LimitCache: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitCache size', default: '0 (no cache segment, unless the shm session store needs one)',
    summary: 'Size of the shared cache segment that holds the shm session store (and response caching later)',
    parse: (args) => parseSize(args[0]),
  },
  LimitCacheItem: {
    module: 'limits', contexts: serverOnly, arity: one,
    syntax: 'LimitCacheItem size', default: '512K',
    summary: 'Largest item the cache segment stores: a session that would grow past it is refused (503)',
    parse: (args) => parseSize(args[0]),
  },
  RequestReadTimeout: {
    module: 'limits', contexts: serverOnly, arity: [1, 2],
    syntax: 'RequestReadTimeout [header=timeout[-maxtimeout][,MinRate=rate]] [body=timeout[-maxtimeout][,MinRate=rate]]',
    default: 'header=20-40,MinRate=500 body=20,MinRate=500',
    summary: 'Time to receive the request header and body (mod_reqtimeout): MinRate bytes a second stretch it up to maxtimeout; slower is answered 408 and closed',
    parse: readTimeout,
  },
});
