// Forwards one client request to a backend and streams the answer back, both directions with
// backpressure and nothing buffered. One undici Pool per backend origin per process keeps
// backend connections alive across requests.
import type http from 'node:http';
import type { Dispatcher } from 'undici';
import { log } from '../log/logger';
import { addForwarded, endToEnd } from './headers';
import type { Outcome, Upstream, UpstreamMember, Upstreams } from './upstream';

export class Forwarder {
  constructor(private readonly upstreams: Upstreams) {}

  forward(req: http.IncomingMessage, res: http.ServerResponse, target: URL, path: string): void {
    const upstream = this.upstreams.get(target.href);
    const member = upstream.pick(req);
    if (!member) {
      log('proxy').error({ backend: target.href, url: req.url }, 'no backend member is available; answering 503');
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('503 Service Unavailable\n');
      return;
    }
    const headers = endToEnd(req.headers);
    addForwarded(headers, {
      clientAddress: req.socket.remoteAddress ?? '',
      proto: 'encrypted' in req.socket ? 'https' : 'http',
      host: req.headers.host,
    });
    headers.host = member.host;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    member.dispatcher.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path,
        headers: headers as Record<string, string | string[]>,
        body: hasBody ? req : null,
      },
      new ResponseRelay(req, res, upstream, member),
    );
  }

  close(): Promise<void> {
    return this.upstreams.close();
  }
}

/** undici's handler interface, relaying the backend's answer to the client response. */
class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;

  private settled = false;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly upstream: Upstream,
    private readonly member: UpstreamMember,
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
    this.settle('ok');
    this.res.end();
  }

  private settle(outcome: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    this.upstream.done(this.member, outcome);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    const res = this.res;
    this.settle(isConnectFailure(err) ? 'connect-failure' : 'failure');
    if (res.headersSent) {
      // Too late for a status: cut the client connection so it sees a truncated body, not a whole one.
      log('proxy').error({ backend: this.member.name, err: err.code ?? err.message }, 'backend failed mid-response');
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT';
    const status = timeout ? 504 : 502;
    log('proxy').error(
      { backend: this.member.name, status, err: err.code ?? err.message, url: this.req.url },
      timeout ? 'backend timed out' : 'backend refused or failed before a response',
    );
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(timeout ? '504 Gateway Timeout\n' : '502 Bad Gateway\n');
  }
}

/** The backend could not be reached at all (nothing was sent to it). */
function isConnectFailure(err: Error & { code?: string }): boolean {
  return err.code === 'ECONNREFUSED' || err.code === 'UND_ERR_CONNECT_TIMEOUT' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH';
}
