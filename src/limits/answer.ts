// How a limit answers a request it refuses: a short plain-text status, with Connection: close
// when the client may still be sending.
import http from 'node:http';

export function answer(res: http.ServerResponse, status: number, limit: string, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  if (close) res.shouldKeepAlive = false;
  const text = `${status} ${http.STATUS_CODES[status]}: ${limit}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(status === 429 ? { 'retry-after': '1' } : {}),
  });
  res.end(text);
}
