// Forwards one client request to a backend and streams the answer back, both directions with
// backpressure and nothing buffered. One undici Pool per backend origin per process keeps
// backend connections alive across requests.
import type http from 'node:http';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { log } from '../log/logger';
import { addForwarded, endToEnd } from './headers';

export interface ForwardOptions {
  /** Backend wait for response headers and between body chunks (Apache's Timeout). */
  timeout: number;
}

export class Forwarder {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly o: ForwardOptions) {}

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        headersTimeout: this.o.timeout,
        bodyTimeout: this.o.timeout,
        keepAliveTimeout: 4000,
        pipelining: 1,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  forward(req: http.IncomingMessage, res: http.ServerResponse, target: URL, path: string): void {
    const headers = endToEnd(req.headers);
    addForwarded(headers, {
      clientAddress: req.socket.remoteAddress ?? '',
      proto: 'encrypted' in req.socket ? 'https' : 'http',
      host: req.headers.host,
    });
    headers.host = target.host;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const handler = new ResponseRelay(req, res, target.origin);
    this.pool(target.origin).dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path,
        headers: headers as Record<string, string | string[]>,
        body: hasBody ? req : null,
      },
      handler,
    );
  }

  close(): Promise<void> {
    return Promise.all([...this.pools.values()].map((p) => p.close())).then(() => undefined);
  }
}

/** undici's handler interface, relaying the backend's answer to the client response. */
class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly origin: string,
  ) {
    res.once('close', () => {
      // The client went away: stop the backend request too.
      if (!res.writableFinished) this.controller?.abort(new Error('client closed the connection'));
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: http.IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // 1xx are the backend's business with us
    this.res.writeHead(statusCode, statusMessage, endToEnd(headers));
    this.res.on('drain', () => controller.resume());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    const res = this.res;
    if (res.headersSent) {
      // Too late for a status: cut the client connection so it sees a truncated body, not a whole one.
      log('proxy').error({ backend: this.origin, err: err.code ?? err.message }, 'backend failed mid-response');
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT';
    const status = timeout ? 504 : 502;
    log('proxy').error(
      { backend: this.origin, status, err: err.code ?? err.message, url: this.req.url },
      timeout ? 'backend timed out' : 'backend refused or failed before a response',
    );
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(timeout ? '504 Gateway Timeout\n' : '502 Bad Gateway\n');
  }
}
