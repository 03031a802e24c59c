// Reverse proxying: which paths go to which backends, and how requests and answers are rewritten
// on the way (mod_proxy's names and meanings).
import net from 'node:net';
import { one, oneOrMore, proxyUrl, seconds, serverOrHost, table, urlPath, type UseContext } from '../directive-spec';
import type { ContextName } from '../types';
import { parseFlag, ValueError } from '../values';

const hostOrLocation: readonly ContextName[] = [...serverOrHost, 'location'];

/** A ProxyPass target: the backend URL, or null for `!` (do not proxy this path). */
function proxyTarget(text: string): string | null {
  if (text === '!') return null;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url && (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'balancer:') && url.hostname !== '') return text;
  throw new ValueError(`must be an http://, https:// or balancer:// URL, or ! (got ${JSON.stringify(text)})`);
}

// Apache's parameter names are words; refusing others here also keeps names like __proto__ out.
const paramKey = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The `key=value` words after a ProxyPass URL, kept as written for the upstreams to read. */
function workerParams(words: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = word.slice(0, eq);
    if (eq < 0 || !paramKey.test(key)) throw new ValueError(`parameters are key=value (got ${JSON.stringify(word)})`);
    params[key.toLowerCase()] = word.slice(eq + 1);
  }
  return params;
}

export interface ProxyPassValue {
  path: string;
  target: string | null;
  params: Record<string, string>;
}

function proxyPass(args: readonly string[], use: UseContext): ProxyPassValue {
  // Inside <Location> the path is the Location's, as in Apache.
  const inLocation = use.context === 'location';
  if (inLocation && args[0].startsWith('/')) {
    throw new ValueError('takes no path inside <Location> (the path is the Location\'s): ProxyPass url|! [key=value ...]');
  }
  if (!inLocation && args.length < 2) throw new ValueError('takes a path and a URL outside <Location>: ProxyPass path url|! [key=value ...]');
  const path = inLocation ? use.sectionArg : urlPath(args[0]);
  const rest = inLocation ? args : args.slice(1);
  const target = proxyTarget(rest[0]);
  if (target === null && rest.length > 1) throw new ValueError('takes no parameters after !');
  return { path, target, params: workerParams(rest.slice(1)) };
}

/** `ProxyPassReverse [path] url`: the URL of a backend whose redirects point back here. */
function proxyPassReverse(args: readonly string[], use: UseContext): { path: string; url: string } {
  const inLocation = use.context === 'location';
  if (inLocation && args.length !== 1) throw new ValueError('takes one argument inside <Location>: ProxyPassReverse url');
  if (!inLocation && args.length !== 2) throw new ValueError('takes two arguments outside <Location>: ProxyPassReverse path url');
  const url = args[args.length - 1];
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol === 'balancer:') throw new ValueError('takes the URL of each member, not a balancer:// URL');
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new ValueError(`must be an http:// or https:// URL (got ${JSON.stringify(url)})`);
  }
  return { path: inLocation ? use.sectionArg : urlPath(args[0]), url };
}

/** An address or a network, checked as net.BlockList will read it in the children. */
function trustedAddress(text: string): string {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? text : text.slice(0, slash);
  const family = net.isIP(ip);
  const bits = slash < 0 ? 0 : Number(text.slice(slash + 1));
  const widest = family === 4 ? 32 : 128;
  if (family !== 0 && (slash < 0 || (/^\d{1,3}$/.test(text.slice(slash + 1)) && bits <= widest))) return text;
  throw new ValueError(`must be an IP address or a network such as 10.0.0.0/8 or fd00::/8 (got ${JSON.stringify(text)})`);
}

export const proxyDirectives = table({
  Proxy: {
    module: 'proxy', contexts: serverOrHost, arity: one, opens: 'proxy',
    syntax: '<Proxy wildcard-url>', default: 'none',
    summary: 'Container for directives applied to proxied resources',
    parse: (args) => proxyUrl(args[0]),
  },
  ProxyPass: {
    module: 'proxy', contexts: hostOrLocation, arity: [1, Infinity],
    syntax: 'ProxyPass [path] url|! [key=value ...]', default: 'none',
    summary: 'Maps a remote http://, https:// or balancer:// server into the local URL space (inside <Location> without path); ! excludes a path',
    parse: proxyPass,
  },
  ProxyPassReverse: {
    module: 'proxy', contexts: hostOrLocation, arity: [1, 2],
    syntax: 'ProxyPassReverse [path] url', default: 'none',
    summary: 'Adjusts the URL in the Location, Content-Location and URI headers of responses from a backend back to path here',
    parse: proxyPassReverse,
  },
  ProxyPreserveHost: {
    module: 'proxy', contexts: hostOrLocation, arity: one,
    syntax: 'ProxyPreserveHost On|Off', default: 'Off',
    summary: 'Sends the client\'s Host header to the backend instead of the host of the ProxyPass URL',
    parse: (args) => parseFlag(args[0]),
  },
  ProxyTimeout: {
    module: 'proxy', contexts: serverOrHost, arity: one,
    syntax: 'ProxyTimeout duration', default: 'the value of Timeout',
    summary: 'How long to wait for a backend\'s response headers and between its body chunks (504 when exceeded)',
    parse: seconds({ positive: true }),
  },
  ProxyAddHeaders: {
    module: 'proxy', contexts: hostOrLocation, arity: one,
    syntax: 'ProxyAddHeaders On|Off', default: 'On',
    summary: 'Adds X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and X-Forwarded-Server to proxied requests',
    parse: (args) => parseFlag(args[0]),
  },
  ProxyTrustedAddresses: {
    module: 'proxy', contexts: serverOrHost, arity: oneOrMore,
    syntax: 'ProxyTrustedAddresses ip|cidr [ip|cidr] ...', default: 'none (no client is trusted)',
    summary: 'Clients (such as a load balancer in front) whose X-Forwarded-* and Forwarded headers are kept and appended to; from others they are removed',
    parse: (args) => args.map(trustedAddress),
  },
});
