// Apache's LogFormat directives (%h, %{Referer}i, ...): each letter, with its {argument},
// becomes one small function of the Exchange, made once when the format is compiled.
import { threadId } from 'node:worker_threads';
import { ValueError } from '../config/values';
import { escapeLogText } from './escape';
import { plainAddress, type Exchange } from './exchange';
import { clfTime, timeRender } from './log-time';

export type Item = (x: Exchange) => string | number;

type Factory = (arg: string | null, letter: string) => Item;

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '-' : escapeLogText(v));

function noArgument(make: () => Item): Factory {
  return (arg, letter) => {
    if (arg !== null) throw new ValueError(`%{${arg}}${letter}: %${letter} takes no {argument}`);
    return make();
  };
}

function needsArgument(make: (arg: string) => Item): Factory {
  return (arg, letter) => {
    if (arg === null || arg === '') throw new ValueError(`%${letter} needs a {name}: %{name}${letter}`);
    return make(arg);
  };
}

function oneOf(choices: Record<string, Item>, plain: Item): Factory {
  return (arg, letter) => {
    if (arg === null) return plain;
    if (Object.hasOwn(choices, arg)) return choices[arg];
    throw new ValueError(`%{${arg}}${letter}: the argument of %${letter} is one of ${Object.keys(choices).join(', ')}`);
  };
}

const clientAddress: Item = (x) => plainAddress(x.socket.remoteAddress);
const localPort: Item = (x) => x.socket.localPort ?? '-';

function requestLine(x: Exchange): string {
  const req = x.req;
  return req === null ? '-' : escapeLogText(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
}

function urlPath(x: Exchange): string {
  const url = x.req?.url;
  if (url === undefined) return '-';
  const q = url.indexOf('?');
  return escapeLogText(q < 0 ? url : url.slice(0, q));
}

function query(x: Exchange): string {
  const url = x.req?.url;
  const q = url === undefined ? -1 : url.indexOf('?');
  return q < 0 ? '' : escapeLogText((url as string).slice(q));
}

export function requestHeader(x: Exchange, name: string): string | undefined {
  const v = x.req?.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A response header as sent. Headers handed to writeHead() (as the proxy does) are not kept
 * for getHeader(), so they are read from the header block Node serialized. */
function responseHeader(x: Exchange, lowerName: string): string | undefined {
  const head = (x.res as { _header?: unknown } | null)?._header;
  if (typeof head !== 'string') return undefined;
  const key = `\r\n${lowerName}:`;
  let at = head.toLowerCase().indexOf(key);
  if (at < 0) return undefined;
  at += key.length;
  return head.slice(at, head.indexOf('\r\n', at)).trim();
}

function cookie(x: Exchange, name: string): string | undefined {
  const header = x.req?.headers.cookie;
  if (header === undefined) return undefined;
  const prefix = `${name}=`;
  for (let start = 0; start < header.length; ) {
    while (header.charCodeAt(start) === 32) start++;
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    if (header.startsWith(prefix, start)) return header.slice(start + prefix.length, end);
    start = end + 1;
  }
  return undefined;
}

/** The user name of a Basic Authorization header, as the client sent it: mpmproxy does not
 * check it (a backend may), which is what Apache's %u says of a 401. */
export function basicUser(x: Exchange): string | undefined {
  const auth = x.req?.headers.authorization;
  if (auth === undefined || auth.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

/** The host name the client asked for (Host without its port), else the server's name. */
function hostName(x: Exchange): string {
  const host = x.req?.headers.host;
  if (host === undefined || host === '') return escapeLogText(x.serverName);
  const colon = host.lastIndexOf(':');
  return escapeLogText(colon > 0 && host.indexOf(']', colon) < 0 ? host.slice(0, colon) : host);
}

function time(arg: string | null): Item {
  if (arg === null) {
    const clf = clfTime();
    return (x) => clf(x.startMs);
  }
  const end = arg.startsWith('end:');
  const render = timeRender(end || arg.startsWith('begin:') ? arg.slice(arg.indexOf(':') + 1) : arg);
  return end ? (x) => render(x.startMs + x.durationUs / 1000) : (x) => render(x.startMs);
}

const durations: Record<string, Item> = {
  s: (x) => Math.floor(x.durationUs / 1_000_000),
  ms: (x) => Math.floor(x.durationUs / 1000),
  us: (x) => x.durationUs,
};

/** Every letter mpmproxy logs. docs/logging.md describes each; a test keeps the two in step. */
export const formatItems: Record<string, Factory> = {
  a: oneOf({ c: clientAddress }, clientAddress),
  A: noArgument(() => (x) => plainAddress(x.socket.localAddress)),
  b: noArgument(() => (x) => (x.bodyBytes === 0 ? '-' : x.bodyBytes)),
  B: noArgument(() => (x) => x.bodyBytes),
  C: needsArgument((name) => (x) => dash(cookie(x, name))),
  D: noArgument(() => (x) => x.durationUs),
  h: noArgument(() => clientAddress),
  H: noArgument(() => (x) => (x.req === null ? '-' : `HTTP/${x.req.httpVersion}`)),
  i: needsArgument((name) => {
    const lower = name.toLowerCase();
    return (x) => dash(requestHeader(x, lower));
  }),
  l: noArgument(() => () => '-'),
  m: noArgument(() => (x) => x.req?.method ?? '-'),
  o: needsArgument((name) => {
    const lower = name.toLowerCase();
    return (x) => dash(responseHeader(x, lower));
  }),
  O: noArgument(() => (x) => x.bytesOut),
  p: oneOf({ canonical: localPort, local: localPort, remote: (x) => x.socket.remotePort ?? '-' }, localPort),
  P: oneOf({ pid: () => process.pid, tid: () => threadId }, () => process.pid),
  q: noArgument(() => query),
  r: noArgument(() => requestLine),
  s: noArgument(() => (x) => x.status),
  t: time,
  T: oneOf(durations, durations.s),
  u: noArgument(() => (x) => dash(basicUser(x))),
  U: noArgument(() => urlPath),
  v: noArgument(() => (x) => escapeLogText(x.serverName)),
  V: noArgument(() => hostName),
  X: noArgument(() => (x) => x.connection),
};

/** Apache letters that need something mpmproxy does not have (files, notes, environment). */
const unsupported: Record<string, string> = {
  e: 'environment variables',
  f: 'served files',
  I: 'per-request input byte counts',
  k: 'per-connection request counts',
  L: 'request log IDs',
  n: 'module notes',
  R: 'handlers',
  S: 'per-request transfer byte counts',
};

export function formatItem(letter: string, arg: string | null): Item {
  const make = formatItems[letter];
  if (make) return make(arg, letter);
  const missing = unsupported[letter];
  if (missing) throw new ValueError(`%${letter} is not supported: mpmproxy has no ${missing}`);
  throw new ValueError(`unknown format directive %${letter} (docs/logging.md lists them)`);
}
