// Upgrade: h2c (RFC 7540 §3.2, as httpd's mod_http2 serves it): an HTTP/1.1 request asks to go
// on in HTTP/2, the server answers 101 and then the request's response on stream 1. Node's
// HTTP/2 server cannot adopt a request that arrived in HTTP/1.1, so the request is given to it
// as the client would have sent it in HTTP/2: one HEADERS frame for stream 1, put into the
// incoming bytes right after the client's preface and first SETTINGS frame.
import type http from 'node:http';
import { PREFACE } from './preface';
import type { Rewrite } from './replay-socket';

export const SWITCHING_PROTOCOLS = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';

/** SETTINGS_MAX_FRAME_SIZE's initial value: a larger header block would need CONTINUATION frames. */
const MAX_FRAME = 16_384;
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** Connection-specific fields, which HTTP/2 forbids (RFC 9113 §8.2.2), and Host, which becomes :authority. */
const notCarried = new Set(['connection', 'upgrade', 'http2-settings', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'host']);

/** Whether the request may be upgraded: it asks for h2c with exactly one HTTP2-Settings, and has
 * no body (httpd does not upgrade a request with a body either). */
export function wantsH2c(req: http.IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || !upgrade.toLowerCase().split(/\s*,\s*/).includes('h2c')) return false;
  let settings = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'http2-settings') settings++;
  const length = req.headers['content-length'];
  const body = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  return settings === 1 && !body;
}

function hpackLength(n: number, out: number[]): void {
  if (n < 127) {
    out.push(n);
    return;
  }
  out.push(127);
  let rest = n - 127;
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
}

/** Each field as a literal without indexing (RFC 7541 §6.2.2), so that the client's and the
 * server's header tables, which never saw this block, stay in step. */
function headerBlock(fields: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    const prefix: number[] = [0x00];
    hpackLength(n.length, prefix);
    parts.push(Buffer.from(prefix), n);
    const valuePrefix: number[] = [];
    hpackLength(v.length, valuePrefix);
    parts.push(Buffer.from(valuePrefix), v);
  }
  return Buffer.concat(parts);
}

/** Stream 1's HEADERS frame for the request, or null when its header block is too large for one. */
export function streamOneHeaders(req: http.IncomingMessage): Buffer | null {
  const fields: Array<[string, string]> = [
    [':method', req.method ?? 'GET'],
    [':scheme', 'http'],
    [':authority', req.headers.host ?? ''],
    [':path', req.url ?? '/'],
  ];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!notCarried.has(name)) fields.push([name, raw[i + 1]]);
  }
  const block = headerBlock(fields);
  if (block.length > MAX_FRAME) return null;
  const frame = Buffer.alloc(FRAME_HEADER + block.length);
  frame.writeUIntBE(block.length, 0, 3);
  frame[3] = TYPE_HEADERS;
  frame[4] = END_STREAM | END_HEADERS;
  frame.writeUInt32BE(1, 5);
  block.copy(frame, FRAME_HEADER);
  return frame;
}

/** What the client sends after the 101, with `frame` put in after its preface and first frame
 * (a SETTINGS frame, RFC 9113 §3.4). `onDone` is called once it is in. */
export function insertAfterPreface(frame: Buffer, onDone: () => void): Rewrite {
  let held: Buffer | null = null;
  return (chunk) => {
    held = held === null ? chunk : Buffer.concat([held, chunk]);
    if (held.length < PREFACE.length + FRAME_HEADER) return Buffer.alloc(0);
    const end = PREFACE.length + FRAME_HEADER + held.readUIntBE(PREFACE.length, 3);
    if (held.length < end) return Buffer.alloc(0);
    const bytes = Buffer.concat([held.subarray(0, end), frame, held.subarray(end)]);
    held = null;
    onDone();
    return bytes;
  };
}
