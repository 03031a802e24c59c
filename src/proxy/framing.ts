// Requests whose body length could be read two ways are refused before anything is forwarded:
// a backend that reads the framing differently from us would take the rest of a body for a
// second request (request smuggling). llhttp refuses most such requests itself (they arrive as
// 'clientError'); these are the ones it lets through to a request handler.
import http from 'node:http';
import type net from 'node:net';
import { log } from '../log/logger';
import { isName } from './headers';

export interface Refusal {
  status: number;
  reason: string;
}

const duplicateHost: Refusal = { status: 400, reason: 'more than one Host header' };
const http10Chunked: Refusal = { status: 400, reason: 'Transfer-Encoding in an HTTP/1.0 request' };

/** Why this request must not be served, or null. Allocates nothing for a sound request. */
export function framingRefusal(req: http.IncomingMessage): Refusal | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  let te: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (isName(name, 'host')) hosts++;
    else if (isName(name, 'transfer-encoding')) te = te === undefined ? raw[i + 1] : `${te}, ${raw[i + 1]}`;
  }
  if (hosts > 1) return duplicateHost;
  if (te === undefined) return null;
  // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
  if (req.httpVersionMinor === 0) return http10Chunked;
  if (te.trim().toLowerCase() === 'chunked') return null;
  const codings = te.toLowerCase().split(',').map((c) => c.trim());
  // Another coding before chunked is legal HTTP, but the backend would get the body decoded
  // from chunked and still labelled with it: RFC 9112 §6.1's answer is 501.
  return codings.at(-1) === 'chunked' && codings.indexOf('chunked') === codings.length - 1
    ? { status: 501, reason: `Transfer-Encoding "${te}": only chunked is supported` }
    : { status: 400, reason: `Transfer-Encoding "${te}" does not end in a single chunked` };
}

/** Whether the request has a body whose length it does not declare: chunked in HTTP/1.1, or an
 * HTTP/2 stream whose HEADERS did not end it and that has no Content-Length. */
export function bodyOfUnknownLength(req: http.IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  if (req.httpVersionMajor !== 2 || req.headers['content-length'] !== undefined) return false;
  return !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders;
}

/** What llhttp's refusal of a request becomes: the status and the reason, in llhttp's words. */
export function parseRefusal(err: Error & { code?: string; reason?: string }): Refusal {
  if (err.code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'request header fields too large' };
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'request headers not received within Timeout' };
  return { status: 400, reason: `${err.reason ?? err.message} (${err.code ?? 'parse error'})` };
}

/** One line per refused request, at info: clients sending bad requests is not the server's error. */
export function logRefusal(socket: net.Socket, r: Refusal): void {
  log('core').info({ client: socket.remoteAddress, status: r.status, reason: r.reason }, `bad request: ${r.reason}; answering ${r.status} and closing the connection`);
}

/** The raw answer for a connection whose request never became a request object. */
export function refusalHead(status: number): string {
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}
