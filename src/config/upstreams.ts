// Resolves where proxied requests go into plain data the children build their backend pools
// from: one backend per ProxyPass origin, the balancers of <Proxy balancer://name> sections with
// their members, each with its worker parameters (mod_proxy's names and defaults), its TLS
// settings (SSLProxy*), its outbound proxy (ProxyRemote) and its health check.

import fs from 'node:fs';
import { ConfigError, ConfigErrors } from '../errors';
import { isCertificate, isPrivateKey, joinPem, pemBlocks, type PemBlock } from '../tls/pem';
import { HEALTH_CAPACITY, type MemberKey } from '../shm/health';
import { directives, lastValue, usesOf } from './directives';
import {
  parseParams,
  type BalancerParams,
  type HealthCheckMethod,
  type MemberStatus,
  type ProxyRemoteValue,
  type StatusRanges,
  type StickySession,
  type WorkerParams,
} from './directives/balancer';
import { sectionRoutes } from './routes';
import type { Section } from './types';
import { ValueError } from './values';

export interface BackendTlsSpec {
  /** PEM text of SSLProxyCACertificateFile; null: Node's bundled CA list. */
  ca: string | null;
  /** PEM certificates and key of SSLProxyMachineCertificateFile. */
  cert: string | null;
  key: string | null;
  checkPeerName: boolean;
  verify: boolean;
}

export interface HealthCheckSpec {
  method: HealthCheckMethod;
  /** The path probed. */
  uri: string;
  /** milliseconds */
  interval: number;
  passes: number;
  fails: number;
  expect: StatusRanges;
}

export interface RemoteProxySpec {
  /** http://host:port */
  url: string;
  /** user:pass for Proxy-Authorization: Basic. */
  credentials: string | null;
}

/** One backend (Apache's worker): a ProxyPass origin or a balancer member. Durations in ms. */
export interface BackendSpec {
  /** For logs: the backend as configured. */
  name: string;
  /** scheme://host:port */
  origin: string;
  /** Its record in the shared health table. */
  key: string;
  /** Connections per serving event loop (max=). */
  max: number;
  timeout: number;
  connectTimeout: number;
  /** Idle connections close after this (ttl=); null: when the backend's Keep-Alive says, 4 s without. */
  ttl: number | null;
  tcpKeepAlive: boolean;
  disableReuse: boolean;
  retry: number;
  dnsTtl: number;
  loadFactor: number;
  route: string;
  status: Required<MemberStatus>;
  health: HealthCheckSpec | null;
  tls: BackendTlsSpec | null;
  remote: RemoteProxySpec | null;
}

export interface BalancerSpec {
  /** balancer://name, lower case. */
  name: string;
  lbmethod: 'byrequests' | 'bybusyness';
  sticky: StickySession | null;
  stickySeparator: string;
  noFailover: boolean;
  members: BackendSpec[];
}

export interface UpstreamSettings {
  /** ProxyDNSCacheTimeout, ms; 0 resolves at every connection. */
  dnsCacheTimeout: number;
  /** ProxyPass targets that are URLs, one per origin. */
  backends: BackendSpec[];
  balancers: BalancerSpec[];
}

/** A ProxyPass as the routes record it: the target and the key=value words after it. */
export interface ProxyPassUse {
  target: string;
  params: Readonly<Record<string, string>>;
  file: string;
  line: number;
}

/** Every ProxyPass of the server and its virtual hosts. */
export function proxyPasses(root: Section): ProxyPassUse[] {
  return [root, ...root.sections.filter((s) => s.context === 'virtualhost')]
    .flatMap((s) => sectionRoutes(s).routes)
    .filter((r): r is Extract<typeof r, { kind: 'proxy' }> => r.kind === 'proxy');
}

export interface UpstreamDefaults {
  /** Timeout, ms: the default of timeout= and connectiontimeout=. */
  timeout: number;
  /** Request slots of one serving event loop: the default of max=, as Apache's is ThreadsPerChild. */
  slotsPerLoop: number;
  /** Resolves a path relative to ServerRoot. */
  fromRoot: (file: string) => string;
}

/** Apache's defaults for what the parameters leave unsaid. */
const DEFAULT_RETRY_MS = 60_000;
const DEFAULT_DNS_TTL_MS = 3_600_000;
const DEFAULT_HC_INTERVAL_MS = 30_000;
const DEFAULT_HC_EXPECT: StatusRanges = [[200, 399]];

export function balancerName(target: string): string {
  return `balancer://${new URL(target).hostname.toLowerCase()}`;
}

export function resolveUpstreams(root: Section, passes: readonly ProxyPassUse[], d: UpstreamDefaults): UpstreamSettings {
  const errors: ConfigError[] = [];
  const dnsCacheTimeout = lastValue(root, directives.ProxyDNSCacheTimeout) ?? DEFAULT_DNS_TTL_MS;
  const remotes = usesOf(root, directives.ProxyRemote).map((u) => u.value);
  const sections = [root, ...root.sections.filter((s) => s.context === 'virtualhost')].flatMap((s) =>
    s.sections.filter((p) => p.context === 'proxy'),
  );
  const isBalancer = (s: Section) => s.arg.toLowerCase().startsWith('balancer://');
  const urlSections = sections.filter((s) => !isBalancer(s));
  const serverTls = tlsDirectives(root);
  const files = new PemFiles(d.fromRoot, errors);
  files.checkAll([root, ...sections]);

  const backend = (key: string, url: URL, params: WorkerParams, extraTls: TlsDirectives | null): BackendSpec => {
    const origin = url.origin;
    const tlsSources = [serverTls, ...urlSections.filter((s) => sectionMatches(s.arg, origin)).map(tlsDirectives)];
    if (extraTls) tlsSources.push(extraTls);
    return {
      name: origin,
      origin,
      key,
      max: params.max ?? d.slotsPerLoop,
      timeout: params.timeout ?? d.timeout,
      connectTimeout: params.connectiontimeout ?? params.timeout ?? d.timeout,
      ttl: params.ttl ?? null,
      tcpKeepAlive: params.keepalive ?? false,
      disableReuse: params.disablereuse ?? false,
      retry: params.retry ?? DEFAULT_RETRY_MS,
      dnsTtl: params.addressttl ?? dnsCacheTimeout,
      loadFactor: params.loadfactor ?? 1,
      route: params.route ?? '',
      status: { standby: false, stopped: false, drain: false, ignoreErrors: false, ...params.status },
      health: healthCheck(params),
      tls: url.protocol === 'https:' ? backendTls(tlsSources, files) : null,
      remote: remoteFor(remotes, origin),
    };
  };
  /** Worker parameters that ProxySet gives the backends of matching <Proxy url> sections. */
  const sectionParams = (origin: string): WorkerParams =>
    urlSections.filter((s) => sectionMatches(s.arg, origin)).flatMap(proxySetWorkerParams).reduce(overriding, {});

  // One backend per origin. ProxyPass lines to one origin may repeat its parameters or leave
  // them out (as routes derived from a <Location> below a ProxyPass do), not contradict them.
  const written = new Map<string, { url: URL; params: WorkerParams; text: string; where: string }>();
  const balancerPasses = new Map<string, BalancerParams>();
  for (const pass of passes) {
    const words = Object.entries(pass.params).map(([k, v]) => `${k}=${v}`);
    try {
      if (pass.target.toLowerCase().startsWith('balancer://')) {
        const name = balancerName(pass.target);
        const params = parseParams(words, ['balancer']).balancer;
        const earlier = balancerPasses.get(name);
        if (earlier && words.length > 0 && JSON.stringify(earlier) !== JSON.stringify(params)) {
          throw new ValueError(`${name} has other parameters on another ProxyPass; write them once, or with ProxySet`);
        }
        if (!earlier || words.length > 0) balancerPasses.set(name, params);
        continue;
      }
      const url = new URL(pass.target);
      const params = parseParams(words, ['worker']).worker;
      const text = JSON.stringify(params);
      const earlier = written.get(url.origin);
      if (earlier && words.length > 0 && earlier.text !== '{}' && earlier.text !== text) {
        throw new ValueError(
          `${url.origin} has other parameters at ${earlier.where}; one backend has one set of parameters (ProxySet in <Proxy ${url.origin}> sets them for all)`,
        );
      }
      if (!earlier || words.length > 0) written.set(url.origin, { url, params, text, where: `${pass.file}:${pass.line}` });
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      errors.push(new ConfigError(pass.file, pass.line, 'ProxyPass', err.message));
    }
  }
  const backends = [...written.values()].map(({ url, params }) =>
    backend(url.origin, url, overriding(sectionParams(url.origin), params), null),
  );

  const balancers: BalancerSpec[] = [];
  for (const section of sections.filter(isBalancer)) {
    const name = balancerName(section.arg);
    if (balancers.some((b) => b.name === name)) {
      errors.push(new ConfigError(section.file, section.line, '<Proxy>', `${name} is already defined`));
      continue;
    }
    const sets = usesOf(section, directives.ProxySet).map((u) => u.value.params);
    const forMembers = sets.map((p) => p.worker).reduce(overriding, {});
    const params: BalancerParams = Object.assign({}, ...sets.map((p) => p.balancer), balancerPasses.get(name));
    const tls = tlsDirectives(section);
    const members: BackendSpec[] = [];
    for (const use of usesOf(section, directives.BalancerMember)) {
      const url = new URL(use.value.url);
      if (members.some((m) => m.origin === url.origin)) {
        errors.push(new ConfigError(use.file, use.line, 'BalancerMember', `${url.origin} is already a member of ${name}`));
        continue;
      }
      members.push(backend(`${name}|${url.origin}`, url, overriding(forMembers, use.value.params), tls));
    }
    if (members.length === 0) {
      errors.push(new ConfigError(section.file, section.line, '<Proxy>', `${name} has no BalancerMember`));
    }
    if (params.stickysession && !members.some((m) => m.route !== '')) {
      errors.push(new ConfigError(section.file, section.line, '<Proxy>', `${name} has stickysession= but no member has route=`));
    }
    balancers.push({
      name,
      lbmethod: params.lbmethod ?? 'byrequests',
      sticky: params.stickysession ?? null,
      stickySeparator: params.stickysessionsep ?? '.',
      noFailover: params.nofailover ?? false,
      members,
    });
  }

  for (const pass of passes) {
    if (!pass.target.toLowerCase().startsWith('balancer://')) continue;
    const name = balancerName(pass.target);
    if (!balancers.some((b) => b.name === name)) {
      errors.push(new ConfigError(pass.file, pass.line, 'ProxyPass', `${name} is not defined by a <Proxy ${name}> section`));
    }
  }

  const result: UpstreamSettings = { dnsCacheTimeout, backends, balancers };
  const count = memberKeys(result).length;
  if (count > HEALTH_CAPACITY) {
    errors.push(new ConfigError(root.file, root.line, 'BalancerMember', `${count} backends and members; at most ${HEALTH_CAPACITY} are supported`));
  }
  if (errors.length > 0) throw new ConfigErrors(errors);
  return result;
}

/** Every backend and member, as the shared health table knows them. */
export function memberKeys(u: UpstreamSettings): MemberKey[] {
  return [...u.backends, ...u.balancers.flatMap((b) => b.members)].map((m) => ({ key: m.key, checked: m.health !== null }));
}

/** `over`'s parameters replace `base`'s, status= letters one by one, as Apache applies them in turn. */
function overriding(base: WorkerParams, over: WorkerParams): WorkerParams {
  return { ...base, ...over, status: { ...base.status, ...over.status } };
}

/** A <Proxy> section applies to a backend when it names the backend's origin (any path), or is *. */
function sectionMatches(arg: string, origin: string): boolean {
  if (arg === '*') return true;
  return URL.canParse(arg) && new URL(arg).origin === origin;
}

function proxySetWorkerParams(section: Section): WorkerParams[] {
  return usesOf(section, directives.ProxySet).map((u) => u.value.params.worker);
}

/** Health checks run when hcmethod= or hcuri= says how (mod_proxy_hcheck's parameters). */
function healthCheck(p: WorkerParams): HealthCheckSpec | null {
  if (p.hcmethod === undefined && p.hcuri === undefined) return null;
  return {
    method: p.hcmethod ?? 'GET',
    uri: p.hcuri ?? '/',
    interval: p.hcinterval ?? DEFAULT_HC_INTERVAL_MS,
    passes: p.hcpasses ?? 1,
    fails: p.hcfails ?? 1,
    expect: p.hcexpect ?? DEFAULT_HC_EXPECT,
  };
}

function remoteFor(remotes: readonly ProxyRemoteValue[], origin: string): RemoteProxySpec | null {
  const scheme = origin.slice(0, origin.indexOf(':'));
  const found = remotes.find(
    (r) => r.match === '*' || r.match === scheme || `${origin}/`.startsWith(r.match) || origin === r.match,
  );
  return found ? { url: found.url, credentials: found.credentials } : null;
}

interface Located<V> {
  value: V;
  file: string;
  line: number;
}

/** The SSLProxy* directives written in one section (server or <Proxy>). */
interface TlsDirectives {
  ca?: Located<string>;
  machine?: Located<string>;
  checkPeerName?: boolean;
  verify?: 'none' | 'require';
}

function tlsDirectives(section: Section): TlsDirectives {
  const last = <V>(uses: Array<{ value: V; file: string; line: number }>): Located<V> | undefined => uses.at(-1);
  return {
    ca: last(usesOf(section, directives.SSLProxyCACertificateFile)),
    machine: last(usesOf(section, directives.SSLProxyMachineCertificateFile)),
    checkPeerName: lastValue(section, directives.SSLProxyCheckPeerName),
    verify: lastValue(section, directives.SSLProxyVerify),
  };
}

/** Reads each SSLProxy* file once, as the master, as httpd reads them before its children drop
 * privileges; a file that cannot be used is one error at the line naming it. */
class PemFiles {
  private readonly read = new Map<string, PemBlock[] | null>();

  constructor(
    private readonly fromRoot: (file: string) => string,
    private readonly errors: ConfigError[],
  ) {}

  blocks(use: Located<string> | undefined, directive: 'SSLProxyCACertificateFile' | 'SSLProxyMachineCertificateFile'): PemBlock[] | null {
    if (!use) return null;
    const where = `${use.file}:${use.line}`;
    if (this.read.has(where)) return this.read.get(where) ?? null;
    let blocks: PemBlock[] | null = null;
    const fail = (message: string) => this.errors.push(new ConfigError(use.file, use.line, directive, message));
    try {
      blocks = pemBlocks(fs.readFileSync(this.fromRoot(use.value), 'utf8'));
    } catch (err) {
      fail(`cannot read ${use.value}: ${(err as Error).message}`);
    }
    const certs = blocks?.filter(isCertificate).length ?? 0;
    const keys = blocks?.filter(isPrivateKey).length ?? 0;
    if (blocks && directive === 'SSLProxyCACertificateFile' && certs === 0) {
      fail(`${use.value} holds no PEM certificate`);
      blocks = null;
    } else if (blocks && directive === 'SSLProxyMachineCertificateFile' && (certs === 0 || keys !== 1)) {
      fail(`${use.value} must hold a PEM certificate and its one private key`);
      blocks = null;
    }
    this.read.set(where, blocks);
    return blocks;
  }

  /** Checks every file written, used by an https backend or not. */
  checkAll(sections: readonly Section[]): void {
    for (const section of sections) {
      const t = tlsDirectives(section);
      this.blocks(t.ca, 'SSLProxyCACertificateFile');
      this.blocks(t.machine, 'SSLProxyMachineCertificateFile');
    }
  }
}

/** Later sources (narrower sections) win, directive by directive. */
function backendTls(sources: TlsDirectives[], files: PemFiles): BackendTlsSpec {
  const merged: TlsDirectives = {};
  for (const s of sources) {
    for (const k of Object.keys(s) as Array<keyof TlsDirectives>) if (s[k] !== undefined) Object.assign(merged, { [k]: s[k] });
  }
  const ca = files.blocks(merged.ca, 'SSLProxyCACertificateFile');
  const machine = files.blocks(merged.machine, 'SSLProxyMachineCertificateFile');
  return {
    ca: joinPem(ca?.filter(isCertificate)),
    cert: joinPem(machine?.filter(isCertificate)),
    key: joinPem(machine?.filter(isPrivateKey)),
    checkPeerName: merged.checkPeerName ?? true,
    verify: (merged.verify ?? 'require') === 'require',
  };
}
