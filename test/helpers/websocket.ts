// A real WebSocket echo backend (the `ws` package) for the proxy tests, and a client that
// records how its connection ended.
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import type { TestContext } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';

export interface EchoBackend {
  url: string;
  /** Messages the backend received, all connections together. */
  messages: number;
  /** The request headers of each handshake it accepted. */
  handshakes: http.IncomingHttpHeaders[];
  /** How each of its connections ended: close codes it received. */
  closes: number[];
}

/** Echoes every message; refuses the handshake of /refuse with 403. */
export async function echoBackend(t: TestContext): Promise<EchoBackend> {
  const server = http.createServer((_req, res) => res.end('plain http\n'));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const state: EchoBackend = { url: '', messages: 0, handshakes: [], closes: [] };
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.handshakes.push(req.headers);
      ws.on('message', (data, binary) => {
        state.messages++;
        ws.send(data, { binary });
      });
      ws.on('close', (code) => state.closes.push(code));
      ws.on('error', () => undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

export interface Client {
  ws: WebSocket;
  /** Resolves with the close code and when it came. */
  closed: Promise<{ code: number; reason: string; at: number }>;
  /** The next message. */
  next(): Promise<Buffer>;
}

export async function connectClient(t: TestContext, url: string, opts: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...opts });
  t.after(() => ws.terminate());
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  ws.on('message', (data: Buffer) => {
    const w = waiters.shift();
    if (w) w(data);
    else queue.push(data);
  });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  return {
    ws,
    closed,
    next: () => new Promise<Buffer>((resolve) => (queue.length > 0 ? resolve(queue.shift() as Buffer) : waiters.push(resolve))),
  };
}

/** The status of a refused handshake. */
export function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the handshake succeeded'));
    });
    ws.once('error', reject);
  });
}
