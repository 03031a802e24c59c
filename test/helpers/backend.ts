// A real HTTP backend on loopback for the daemon to proxy to.
//   /slow?ms=N          answers after N ms
//   /body?size=N        streams N bytes (in 16 KiB chunks, over ~size/64KiB ms)
//   /echo               answers with the request's method, url, headers and body as JSON
//   anything else       'backend ok'
import http from 'node:http';
import type net from 'node:net';
import { closeServer } from './close-server';

export interface Backend {
  port: number;
  url: string;
  /** Requests in flight right now, and the most seen at once. */
  inFlight: number;
  maxInFlight: number;
  requests: number;
  close(): Promise<void>;
}

export async function startBackend(): Promise<Backend> {
  const state = { inFlight: 0, maxInFlight: 0, requests: 0 };
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    state.requests++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.on('close', () => state.inFlight--);
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === '/slow') {
      const ms = Number(url.searchParams.get('ms') ?? '1000');
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`slow done after ${ms} ms\n`);
      }, ms);
      return;
    }
    if (url.pathname === '/body') {
      const size = Number(url.searchParams.get('size') ?? '0');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      let sent = 0;
      const chunk = Buffer.alloc(16384, 0x61);
      const pump = () => {
        while (sent < size) {
          const n = Math.min(chunk.length, size - sent);
          sent += n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', () => setTimeout(pump, 1));
            return;
          }
          if (sent % 65536 === 0) {
            setTimeout(pump, 1);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    if (url.pathname === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('backend ok\n');
  });
  server.keepAliveTimeout = 10000;
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get inFlight() {
      return state.inFlight;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get requests() {
      return state.requests;
    },
    close: () => closeServer(server, sockets),
  } as Backend;
}
