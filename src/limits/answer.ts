// How a limit answers a request it refuses: a short plain-text status with Connection: close
// when the client may still be sending, and, for a body already being passed on, the end of
// whatever reads it, without closing the client's connection before the answer is out.
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

/** The error the reader of a request body (the backend request) sees when a limit ends it. */
export class RequestLimitError extends Error {
  readonly code = 'MPM_LIMIT_EXCEEDED';
  constructor(readonly limit: string) {
    super(`the request went past ${limit}`);
  }
}

/**
 * Ends the request body stream with an error, so its reader (undici, sending it to a backend)
 * aborts. IncomingMessage.destroy() would also destroy the socket and with it the answer just
 * written; hiding the socket for the call keeps the connection up, as undici itself does when it
 * drops a request body. Node then closes the connection after the answer (Connection: close).
 */
export function abortBody(req: http.IncomingMessage, limit: string): void {
  if (req.destroyed) return;
  const r = req as { socket: unknown };
  const socket = r.socket;
  r.socket = null;
  try {
    req.destroy(new RequestLimitError(limit));
  } finally {
    r.socket = socket;
  }
}
