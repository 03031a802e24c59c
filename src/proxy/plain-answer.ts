// The short text answers the server gives itself (404, 400, 502, 504 ...), each built once.
import http from 'node:http';

interface Answer {
  head: string[];
  body: Buffer;
}

const answers = new Map<number, Answer>();

function answerFor(status: number): Answer {
  let a = answers.get(status);
  if (a === undefined) {
    const body = Buffer.from(`${status} ${http.STATUS_CODES[status] ?? ''}\n`);
    const head = ['Content-Type', 'text/plain', 'Content-Length', String(body.length)];
    // A client told 503 may come back in a second, as after a busy-server 503.
    if (status === 503) head.push('Retry-After', '1');
    a = { head, body };
    answers.set(status, a);
  }
  return a;
}

export function answerPlain(res: http.ServerResponse, status: number): void {
  const a = answerFor(status);
  res.writeHead(status, a.head);
  res.end(a.body);
}
