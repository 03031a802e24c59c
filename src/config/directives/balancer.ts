// Backends: balancers and their members (mod_proxy_balancer), the worker parameters of
// mod_proxy and mod_proxy_hcheck, DNS caching, an outbound proxy (ProxyRemote) and TLS to
// backends (mod_ssl's SSLProxy*). The `key=value` parameters are parsed here for BalancerMember
// and ProxySet, and by src/config/upstreams.ts for those written on ProxyPass.
import { nonEmpty, one, oneOrMore, seconds, serverOnly, table, type UseContext } from '../directive-spec';
import { nearest } from '../suggest';
import type { ContextName } from '../types';
import { parseDuration, parseEnum, parseFlag, parseInteger, ValueError } from '../values';

export type HealthCheckMethod = 'TCP' | 'OPTIONS' | 'HEAD' | 'GET';

/** Inclusive status ranges a health probe's answer must fall in. */
export type StatusRanges = ReadonlyArray<readonly [number, number]>;

/** status= letters, each set (+, the default) or cleared (-). */
export interface MemberStatus {
  /** H: used only when no other member is usable. */
  standby?: boolean;
  /** S (stopped) and D (disabled): takes no request. */
  stopped?: boolean;
  /** N (drain): takes only requests whose sticky session names it. */
  drain?: boolean;
  /** I: connection failures never put it out. */
  ignoreErrors?: boolean;
}

/** mod_proxy's worker parameters, as written (durations in ms). */
export interface WorkerParams {
  max?: number;
  timeout?: number;
  connectiontimeout?: number;
  ttl?: number;
  keepalive?: boolean;
  disablereuse?: boolean;
  retry?: number;
  addressttl?: number;
  loadfactor?: number;
  route?: string;
  status?: MemberStatus;
  hcmethod?: HealthCheckMethod;
  hcuri?: string;
  hcinterval?: number;
  hcpasses?: number;
  hcfails?: number;
  hcexpect?: StatusRanges;
}

export interface StickySession {
  cookie: string;
  /** The path (;name=) or query parameter carrying the session when there is no cookie. */
  param: string;
}

/** mod_proxy_balancer's balancer parameters. */
export interface BalancerParams {
  lbmethod?: 'byrequests' | 'bybusyness';
  stickysession?: StickySession;
  stickysessionsep?: string;
  nofailover?: boolean;
}

export interface ParsedParams {
  worker: WorkerParams;
  balancer: BalancerParams;
}

type Kind = 'worker' | 'balancer';

interface ParamSpec {
  kind: Kind;
  parse(text: string): unknown;
}

const duration = (text: string): number => parseDuration(text);
const positiveDuration = (text: string): number => parseDuration(text, { positive: true });
const count = (min: number, max?: number) => (text: string) => parseInteger(text, { min, max });
const flag = (text: string): boolean => parseFlag(text);

const statusLetters: Record<string, keyof MemberStatus> = { H: 'standby', S: 'stopped', D: 'stopped', N: 'drain', I: 'ignoreErrors' };

function memberStatus(text: string): MemberStatus {
  const status: MemberStatus = {};
  const m = /^([+-]?[A-Za-z])+$/.test(text) ? text.match(/[+-]?[A-Za-z]/g) : null;
  if (!m) throw new ValueError(`status= takes letters with an optional + or - such as +H or -S (got ${JSON.stringify(text)})`);
  for (const item of m) {
    const letter = item.slice(-1).toUpperCase();
    const name = statusLetters[letter];
    if (name === undefined) throw new ValueError(`status= letter ${letter} is not supported (letters: H, S, D, N, I)`);
    status[name] = !item.startsWith('-');
  }
  return status;
}

function statusRanges(text: string): StatusRanges {
  return text.split(',').map((part) => {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part.trim());
    const low = m ? Number(m[1]) : NaN;
    const high = m?.[2] === undefined ? low : Number(m[2]);
    if (!(low >= 100 && high <= 599 && low <= high)) {
      throw new ValueError(`hcexpect= takes status codes and ranges such as 200-399 or 200,204 (got ${JSON.stringify(text)})`);
    }
    return [low, high] as const;
  });
}

function stickySession(text: string): StickySession {
  const [cookie, param = cookie, extra] = text.split('|');
  if (cookie === '' || param === '' || extra !== undefined) {
    throw new ValueError(`stickysession= takes COOKIE or COOKIE|parameter (got ${JSON.stringify(text)})`);
  }
  return { cookie, param };
}

function healthCheckMethod(text: string): HealthCheckMethod {
  // The *11 spellings ask for HTTP/1.1, which every probe speaks here anyway.
  const method = text.toUpperCase().replace(/11$/, '');
  return parseEnum(method.toLowerCase(), ['tcp', 'options', 'head', 'get'], 'hcmethod').toUpperCase() as HealthCheckMethod;
}

const paramSpecs: Record<string, ParamSpec> = {
  max: { kind: 'worker', parse: count(1) },
  timeout: { kind: 'worker', parse: positiveDuration },
  connectiontimeout: { kind: 'worker', parse: positiveDuration },
  ttl: { kind: 'worker', parse: positiveDuration },
  keepalive: { kind: 'worker', parse: flag },
  disablereuse: { kind: 'worker', parse: flag },
  retry: { kind: 'worker', parse: duration },
  addressttl: { kind: 'worker', parse: duration },
  loadfactor: { kind: 'worker', parse: count(1, 100) },
  route: { kind: 'worker', parse: (text) => text },
  status: { kind: 'worker', parse: memberStatus },
  hcmethod: { kind: 'worker', parse: healthCheckMethod },
  hcuri: { kind: 'worker', parse: (text) => (text.startsWith('/') ? text : `/${text}`) },
  hcinterval: { kind: 'worker', parse: positiveDuration },
  hcpasses: { kind: 'worker', parse: count(1) },
  hcfails: { kind: 'worker', parse: count(1) },
  hcexpect: { kind: 'worker', parse: statusRanges },
  lbmethod: { kind: 'balancer', parse: (text) => parseEnum(text, ['byrequests', 'bybusyness'], 'lbmethod') },
  stickysession: { kind: 'balancer', parse: stickySession },
  stickysessionsep: {
    kind: 'balancer',
    parse: (text) => {
      if (text.length !== 1) throw new ValueError(`stickysessionsep= takes one character (got ${JSON.stringify(text)})`);
      return text;
    },
  },
  nofailover: { kind: 'balancer', parse: flag },
};

/** `key=value` words; `kinds` are the parameters the place takes. Keys ignore case, as in Apache. */
export function parseParams(words: readonly string[], kinds: readonly Kind[]): ParsedParams {
  const parsed: ParsedParams = { worker: {}, balancer: {} };
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new ValueError(`parameters are key=value (got ${JSON.stringify(word)})`);
    const key = word.slice(0, eq).toLowerCase();
    const spec = Object.hasOwn(paramSpecs, key) ? paramSpecs[key] : undefined;
    if (spec === undefined) {
      const allowed = Object.keys(paramSpecs).filter((k) => kinds.includes(paramSpecs[k].kind));
      const guess = nearest(key, allowed);
      const hint = guess === undefined ? `parameters here: ${allowed.join(', ')}` : `did you mean ${guess}=?`;
      throw new ValueError(`unknown parameter ${key}= (${hint})`);
    }
    if (!kinds.includes(spec.kind)) {
      throw new ValueError(
        spec.kind === 'balancer'
          ? `${key}= is a balancer parameter: write it on ProxySet in <Proxy balancer://...> or on a ProxyPass to balancer://`
          : `${key}= is a worker parameter: write it on BalancerMember, or on ProxySet in <Proxy balancer://...> for every member`,
      );
    }
    const value = spec.parse(word.slice(eq + 1));
    if (key === 'status') {
      parsed.worker.status = { ...parsed.worker.status, ...(value as MemberStatus) };
    } else {
      (parsed[spec.kind] as Record<string, unknown>)[key] = value;
    }
  }
  return parsed;
}

function inBalancer(use: UseContext): boolean {
  return use.context === 'proxy' && use.sectionArg.toLowerCase().startsWith('balancer://');
}

/** A backend URL naming only scheme, host and port: requests keep the path ProxyPass gives them. */
export function memberUrl(text: string): URL {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new ValueError(`must be an http:// or https:// URL (got ${JSON.stringify(text)})`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw new ValueError(`must name only scheme, host and port; the path comes from ProxyPass (got ${JSON.stringify(text)})`);
  }
  return url;
}

export interface BalancerMemberValue {
  url: string;
  params: WorkerParams;
}

export interface ProxySetValue {
  params: ParsedParams;
}

export interface ProxyRemoteValue {
  /** '*', a scheme ('https'), or a URL prefix ('https://api.example.com'). */
  match: string;
  /** http://host:port, without credentials. */
  url: string;
  /** user:pass from the URL, for Proxy-Authorization: Basic. */
  credentials: string | null;
}

function proxyRemote(args: readonly string[]): ProxyRemoteValue {
  const [match, server] = args;
  if (match !== '*' && !/^[a-z][a-z0-9+.-]*(:\/\/\S+)?$/i.test(match)) {
    throw new ValueError(`match must be *, a scheme such as https, or a URL prefix (got ${JSON.stringify(match)})`);
  }
  const url = URL.canParse(server) ? new URL(server) : undefined;
  if (!url || url.protocol !== 'http:' || url.hostname === '' || url.pathname !== '/') {
    throw new ValueError(`remote-server must be http://[user:pass@]host:port (got ${JSON.stringify(server)})`);
  }
  const credentials = url.username === '' ? null : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { match: match.toLowerCase(), url: `http://${url.host}`, credentials };
}

const serverOrProxy: readonly ContextName[] = ['server', 'proxy'];

export const balancerDirectives = table({
  BalancerMember: {
    module: 'proxy', contexts: ['proxy'], arity: oneOrMore,
    syntax: 'BalancerMember url [key=value ...]', default: 'none',
    summary: 'Adds a member to the load balancing group of its <Proxy balancer://name>, with worker parameters',
    parse: (args, use): BalancerMemberValue => {
      if (!inBalancer(use)) throw new ValueError('belongs inside <Proxy balancer://name>');
      return { url: memberUrl(args[0]).origin, params: parseParams(args.slice(1), ['worker']).worker };
    },
  },
  ProxySet: {
    module: 'proxy', contexts: ['proxy'], arity: oneOrMore,
    syntax: 'ProxySet key=value [key=value ...]', default: 'none',
    summary: 'Sets balancer parameters, and worker parameters for the backends of its <Proxy> section',
    parse: (args, use): ProxySetValue => {
      const kinds: Kind[] = inBalancer(use) ? ['balancer', 'worker'] : ['worker'];
      return { params: parseParams(args, kinds) };
    },
  },
  ProxyDNSCacheTimeout: {
    module: 'proxy', contexts: serverOnly, arity: one,
    syntax: 'ProxyDNSCacheTimeout duration', default: '3600',
    summary: 'How long a backend host name resolution is reused before it is refreshed in the background (0: resolve every connection)',
    parse: seconds(),
  },
  ProxyRemote: {
    module: 'proxy', contexts: serverOnly, arity: [2, 2],
    syntax: 'ProxyRemote match http://[user:pass@]host:port', default: 'none',
    summary: 'Remote proxy through which backends matching *, a scheme or a URL prefix are reached (CONNECT for https backends)',
    parse: proxyRemote,
  },
  SSLProxyCACertificateFile: {
    module: 'proxy', contexts: serverOrProxy, arity: one,
    syntax: 'SSLProxyCACertificateFile file-path', default: "Node's bundled CA list",
    summary: 'File of concatenated PEM CA certificates that https backends must chain to',
    parse: nonEmpty,
  },
  SSLProxyMachineCertificateFile: {
    module: 'proxy', contexts: serverOrProxy, arity: one,
    syntax: 'SSLProxyMachineCertificateFile file-path', default: 'none',
    summary: 'PEM file with the client certificate (and chain) and its key presented to https backends',
    parse: nonEmpty,
  },
  SSLProxyCheckPeerName: {
    module: 'proxy', contexts: serverOrProxy, arity: one,
    syntax: 'SSLProxyCheckPeerName on|off', default: 'on',
    summary: "Checks that the backend certificate names the backend's host",
    parse: (args) => parseFlag(args[0]),
  },
  SSLProxyVerify: {
    module: 'proxy', contexts: serverOrProxy, arity: one,
    syntax: 'SSLProxyVerify none|require', default: 'require',
    summary: 'Whether the backend certificate must chain to a trusted CA',
    parse: (args) => parseEnum(args[0], ['none', 'require'] as const),
  },
});
