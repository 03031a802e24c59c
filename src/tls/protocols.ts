// mod_ssl's values for what a handshake may use, turned into Node's secure-context options:
// SSLProtocol into a version range, SSLCipherSuite into the one cipher string Node takes,
// SSLSessionCache into a size.
import tls from 'node:tls';
import { parseSize, ValueError } from '../config/values';

/** In the order of their versions: Node takes a range, minVersion to maxVersion. */
const versions = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof versions)[number];

export interface ProtocolRange {
  min: TlsVersion;
  max: TlsVersion;
}

/** Versions mod_ssl knows that Node's OpenSSL no longer speaks at all. */
const gone = new Set(['sslv2', 'sslv3']);

/**
 * `SSLProtocol [+|-]protocol ...` as mod_ssl reads it: a bare name sets the list, +name adds,
 * -name removes; `all` is every version. Node offers a contiguous range of versions, so a
 * list with a hole in it is refused.
 */
export function parseProtocols(args: readonly string[]): ProtocolRange {
  let on = new Set<TlsVersion>();
  for (const arg of args) {
    const sign = arg[0] === '+' || arg[0] === '-' ? arg[0] : '';
    const name = arg.slice(sign.length).toLowerCase();
    let named: TlsVersion[];
    if (name === 'all') named = [...versions];
    else if (gone.has(name)) {
      if (sign === '-') continue;
      throw new ValueError(`${arg.slice(sign.length)} is not supported (Node's OpenSSL has no SSL 2 or 3)`);
    } else {
      const v = versions.find((x) => x.toLowerCase() === name);
      if (v === undefined) throw new ValueError(`unknown protocol ${JSON.stringify(arg)} (protocols: all, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)`);
      named = [v];
    }
    if (sign === '') on = new Set(named);
    else for (const v of named) sign === '+' ? on.add(v) : on.delete(v);
  }
  const chosen = versions.filter((v) => on.has(v));
  if (chosen.length === 0) throw new ValueError('leaves no protocol enabled');
  const range = { min: chosen[0], max: chosen[chosen.length - 1] };
  if (versions.indexOf(range.max) - versions.indexOf(range.min) + 1 !== chosen.length) {
    throw new ValueError(`${chosen.join(' ')} is not a contiguous range of versions, which is all TLS in Node can offer`);
  }
  return range;
}

export const defaultProtocols: ProtocolRange = { min: 'TLSv1.2', max: 'TLSv1.3' };

export interface CipherSuiteValue {
  protocol: 'SSL' | 'TLSv1.3';
  spec: string;
}

/** `SSLCipherSuite [SSL|TLSv1.3] spec`; the spec is tried on a context at once, so a list that
 * matches no cipher fails at its line. */
export function parseCipherSuite(args: readonly string[]): CipherSuiteValue {
  const protocol = args.length === 2 ? args[0] : 'SSL';
  const spec = args[args.length - 1];
  if (protocol.toUpperCase() === 'SSL') {
    tryCiphers(`${spec}:${defaultSuites().tls13}`);
    return { protocol: 'SSL', spec };
  }
  if (protocol.toLowerCase() === 'tlsv1.3') {
    if (!spec.split(':').every((s) => s.startsWith('TLS_'))) throw new ValueError(`TLS 1.3 cipher suites are named TLS_* (got ${JSON.stringify(spec)})`);
    tryCiphers(`${spec}:${defaultSuites().tls12}`);
    return { protocol: 'TLSv1.3', spec };
  }
  throw new ValueError(`protocol must be SSL or TLSv1.3 (got ${JSON.stringify(protocol)})`);
}

function tryCiphers(ciphers: string): void {
  try {
    tls.createSecureContext({ ciphers });
  } catch (err) {
    throw new ValueError(`no usable cipher in the list: ${(err as Error).message}`);
  }
}

/** Node's default list split into the TLS 1.3 suites and the OpenSSL list for the versions below. */
function defaultSuites(): { tls13: string; tls12: string } {
  const all = tls.DEFAULT_CIPHERS.split(':');
  return { tls13: all.filter((c) => c.startsWith('TLS_')).join(':'), tls12: all.filter((c) => !c.startsWith('TLS_')).join(':') };
}

/** The one cipher string Node takes, from the SSLCipherSuite lines in force (null: the default). */
export function cipherString(tls12: string | null, tls13: string | null): string {
  const d = defaultSuites();
  return `${tls13 ?? d.tls13}:${tls12 ?? d.tls12}`;
}

/** mod_socache_shmcb's default size, for `shmcb:/path` written without one. */
const SHMCB_DEFAULT_BYTES = 512_000;

/** SSLSessionCache: the bytes of shared memory it asks for; 0 for none. */
export function parseSessionCache(text: string): number {
  const lower = text.toLowerCase();
  if (lower === 'none' || lower === 'nonenotnull') return 0;
  if (lower.startsWith('shm:')) return positiveSize(text.slice(4));
  if (lower.startsWith('shmcb:')) {
    // The path names a file httpd maps; here the master's POSIX segment takes its place.
    const m = /\(([^)]*)\)$/.exec(text);
    return m ? positiveSize(m[1]) : SHMCB_DEFAULT_BYTES;
  }
  throw new ValueError(`must be none, shm:size (shm:512K) or shmcb:/path(size) (got ${JSON.stringify(text)})`);
}

/** Below this a cache holds too few sessions to be worth a segment. */
export const SESSION_CACHE_MIN_BYTES = 64 * 1024;

function positiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes < SESSION_CACHE_MIN_BYTES) throw new ValueError(`the cache needs at least 64K (got ${JSON.stringify(text)})`);
  return bytes;
}
