// Header rules of a reverse proxy (RFC 9110 §7.6): hop-by-hop headers stop here in both
// directions; the backend learns who the client was from X-Forwarded-* and Via, and believes
// what earlier proxies said only from clients in ProxyTrustedAddresses; backend URLs in
// redirects become this server's (ProxyPassReverse).
//
// Headers are copied as flat name/value lists, names as the peer wrote them. Names are compared
// without making lower-case copies, and only with the rule names of the same length.
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ProxyPlan } from './route-plan';

const PASS = 0;
const DROP = 1;
const FORWARDING = 2;
const CONNECTION = 3;
const URL_VALUE = 4;
const TRAILER = 5;
const LENGTH = 6;

type Role = typeof PASS | typeof DROP | typeof FORWARDING | typeof CONNECTION | typeof URL_VALUE | typeof TRAILER | typeof LENGTH;

/** Rule names (lower case) and their roles, by name length. */
type RoleTable = Array<Array<[string, Role]> | undefined>;

function roleTable(entries: Record<string, Role>): RoleTable {
  const table: RoleTable = [];
  for (const [name, role] of Object.entries(entries)) (table[name.length] ??= []).push([name, role]);
  return table;
}

/** Whether the first `lower.length` characters of `name` are `lower`, ignoring case. Header
 * names are tokens, in which only letters differ from another character by bit 0x20. */
function startsWithName(name: string, lower: string): boolean {
  if (name.length < lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** `name` is the header `lower`, written in any case. */
export function isName(name: string, lower: string): boolean {
  return name.length === lower.length && startsWithName(name, lower);
}

const requestRoles = roleTable({
  connection: DROP,
  'keep-alive': DROP,
  'proxy-connection': DROP,
  // Credentials for this proxy, not for the backend.
  'proxy-authorization': DROP,
  te: DROP,
  // Request trailers are not relayed (undici cannot send them), so neither is their announcement.
  trailer: DROP,
  'transfer-encoding': DROP,
  upgrade: DROP,
  // 100-continue is answered here, when the request is on its way to a backend.
  expect: DROP,
  // The backend's own (or with ProxyPreserveHost the client's) is added once, at the end.
  host: DROP,
  forwarded: FORWARDING,
});

const responseRoles = roleTable({
  connection: CONNECTION,
  'keep-alive': DROP,
  'proxy-connection': DROP,
  'proxy-authenticate': DROP,
  te: DROP,
  'transfer-encoding': DROP,
  upgrade: DROP,
  location: URL_VALUE,
  'content-location': URL_VALUE,
  uri: URL_VALUE,
  trailer: TRAILER,
  'content-length': LENGTH,
});

function roleOf(table: RoleTable, name: string): Role {
  const candidates = table[name.length];
  if (candidates !== undefined) for (const [lower, role] of candidates) if (startsWithName(name, lower)) return role;
  return PASS;
}

/** X-Forwarded-For, -Host, -Proto, -Server, -Port, -Prefix ... */
function isXForwarded(name: string): boolean {
  return name.length > 12 && startsWithName(name, 'x-forwarded-');
}

/** Header names a Connection header lists beyond close and keep-alive (hop-by-hop too), or null. */
function connectionListed(value: string | undefined): string[] | null {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return null;
  const names = value
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive');
  return names.length === 0 ? null : names;
}

const join = (prior: string | undefined, value: string): string => (prior === undefined ? value : `${prior}, ${value}`);

/** What the backend is told about the client, besides the client's own headers. */
export interface ClientFacts {
  /** The client's address, IPv4-mapped IPv6 written as IPv4. */
  address: string;
  /** Whether the client's address is in ProxyTrustedAddresses (asked only when it matters). */
  trusted(): boolean;
  proto: 'http' | 'https';
  /** The Host header the client sent. */
  host: string | undefined;
  /** The client's TLS connection, for SSLClientCertHeaders; null over plain HTTP. */
  tlsSocket(): TLSSocket | null;
}

/**
 * The headers the backend gets: the client's end-to-end ones; X-Forwarded-* and Forwarded only
 * from a trusted client (and then extended with ours), never from another; then Host and Via.
 */
export function backendRequestHeaders(req: http.IncomingMessage, plan: ProxyPlan, client: ClientFacts, backendHost: string): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  const out: string[] = [];
  let forwarding: string[] | null = null;
  const certHeaders = plan.clientCert?.lower ?? null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (certHeaders !== null && certHeaders.has(name.toLowerCase())) continue;
    const role = isXForwarded(name) ? FORWARDING : roleOf(requestRoles, name);
    if (role === FORWARDING) (forwarding ??= []).push(name, raw[i + 1]);
    else if (role === PASS && (listed === null || !listed.includes(name.toLowerCase()))) out.push(name, raw[i + 1]);
  }
  if (forwarding !== null && client.trusted()) addForwarding(out, forwarding, plan, client);
  else if (plan.addHeaders) addForwarding(out, null, plan, client);
  plan.clientCert?.append(out, client.tlsSocket());
  out.push('Host', plan.preserveHost && client.host !== undefined ? client.host : backendHost, 'Via', plan.via(req));
  return out;
}

/** Copies a trusted client's forwarding headers, each of ours appended to its own kind. */
function addForwarding(out: string[], prior: string[] | null, plan: ProxyPlan, client: ClientFacts): void {
  let xff: string | undefined;
  let host: string | undefined;
  let proto: string | undefined;
  let server: string | undefined;
  for (let i = 0; prior !== null && i < prior.length; i += 2) {
    const name = prior[i];
    const value = prior[i + 1];
    const kind = plan.addHeaders ? name.toLowerCase() : '';
    if (kind === 'x-forwarded-for') xff = join(xff, value);
    else if (kind === 'x-forwarded-host') host = join(host, value);
    else if (kind === 'x-forwarded-proto') proto = join(proto, value);
    else if (kind === 'x-forwarded-server') server = join(server, value);
    else out.push(name, value);
  }
  if (!plan.addHeaders) return;
  out.push('X-Forwarded-For', join(xff, client.address), 'X-Forwarded-Proto', join(proto, client.proto));
  if (client.host !== undefined) out.push('X-Forwarded-Host', join(host, client.host));
  else if (host !== undefined) out.push('X-Forwarded-Host', host);
  out.push('X-Forwarded-Server', join(server, plan.serverName));
}

/** Where a response is going, for the rules that depend on it. */
export interface ResponseTarget {
  req: http.IncomingMessage;
  /** The client's Host header and whether it came over TLS, for ProxyPassReverse. */
  clientHost: string;
  encrypted: boolean;
  /** Whether the client response can be chunked, the only framing that carries trailers. */
  chunkable: boolean;
}

/** Header names met in backend responses, by length: a backend sends the same dozen names in
 * every response, and comparing a name's bytes with one kept here costs less than making a
 * string of them each time. A few per length, so an odd backend cannot grow it. */
const namesByLength: string[][] = [];
const NAMES_PER_LENGTH = 8;

function sameText(bytes: Buffer, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

function nameText(bytes: Buffer): string {
  const known = namesByLength[bytes.length];
  if (known !== undefined) for (const name of known) if (sameText(bytes, name)) return name;
  const name = bytes.toString('latin1');
  if (known === undefined) namesByLength[bytes.length] = [name];
  else if (known.length < NAMES_PER_LENGTH) known.push(name);
  return name;
}

/** The headers the client gets from the backend's raw ones: end-to-end only, URLs mapped back, Via added. */
export function clientResponseHeaders(raw: Buffer[], plan: ProxyPlan, to: ResponseTarget): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  let trailerAt = -1;
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = nameText(raw[i]);
    const role = roleOf(responseRoles, name);
    if (role === DROP) continue;
    let value = raw[i + 1].toString('latin1');
    if (role === CONNECTION) {
      connection = join(connection, value);
      continue;
    }
    if (role === URL_VALUE && plan.reverse !== null) value = plan.reverse.map(value, to.encrypted, to.clientHost);
    else if (role === TRAILER) trailerAt = out.length;
    else if (role === LENGTH) hasLength = true;
    out.push(name, value);
  }
  // Node refuses a Trailer header on a response it will not chunk (and the trailers would be lost).
  if (trailerAt >= 0 && (hasLength || !to.chunkable)) out.splice(trailerAt, 2);
  const listed = connectionListed(connection);
  if (listed !== null) dropNames(out, listed);
  out.push('Via', plan.via(to.req));
  return out;
}

function dropNames(out: string[], names: readonly string[]): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (names.includes(out[i].toLowerCase())) out.splice(i, 2);
}

const text = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('latin1'));

/** Trailers as Node's addTrailers takes them. */
export function trailerPairs(raw: ReadonlyArray<Buffer | string>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([text(raw[i]), text(raw[i + 1])]);
  return pairs;
}

/** The Link values of a 103 Early Hints. */
export function linkValues(raw: Buffer[]): string[] {
  const links: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && isName(raw[i].toString('latin1'), 'link')) links.push(raw[i + 1].toString('latin1'));
  return links;
}
