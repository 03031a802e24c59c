// Forwards one client request to a backend: picks the member of the route's upstream, builds
// the backend's headers and hands the request to the member's undici dispatcher, the client's
// request stream as the body, so the upload streams with backpressure too. The answer comes
// back through an Exchange.
import type http from 'node:http';
import type { Dispatcher } from 'undici';
import { log } from '../log/logger';
import type { RequestSession } from '../session/request-session';
import { sessionRequestHeaders } from '../session/session-layer';
import { isWebSocketUpgrade } from '../websocket/handshake';
import type { WebSocketTunnels } from '../websocket/tunnels';
import { UpgradeExchange } from '../websocket/upgrade-exchange';
import { Exchange, type ResponseObserver } from './exchange';
import { bodyOfUnknownLength } from './framing';
import { backendRequestHeaders } from './headers';
import { KeepOnAbandon } from './keep-on-abandon';
import { answerPlain } from './plain-answer';
import type { ProxyPlan } from './route-plan';
import type { Upstream, Upstreams } from './upstream';

/** Expect: 100-continue as Node recognises it (and HTTP/1.1 only, as Node answers it). */
function expectsContinue(req: http.IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && expect.toLowerCase().includes('100-continue');
}

/** What the request handler hands a proxied request to: this Forwarder, or the state-aware
 * layer in front of it (src/stateaware/). */
export interface ProxyForwarder {
  forward(req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan, url: string, session: RequestSession | null): void;
  close(): Promise<void>;
}

export class Forwarder implements ProxyForwarder {
  /** Each route's upstream, looked up once. */
  private readonly upstreamOf = new Map<ProxyPlan, Upstream>();

  constructor(
    private readonly upstreams: Upstreams,
    /** Where WebSocket upgrades go once the backend switches protocols. */
    private readonly tunnels: WebSocketTunnels | null,
  ) {}

  /** `url` is the request's path and query, normalized; `session` on paths with sessions. */
  forward(req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan, url: string, session: RequestSession | null = null): void {
    this.send(req, res, plan, url, session, this.upstreamFor(plan), null);
  }

  /** Sends the request to the member `upstream` picks; `observer` sees the final response first. */
  send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    plan: ProxyPlan,
    url: string,
    session: RequestSession | null,
    upstream: Upstream,
    observer: ResponseObserver | null,
  ): void {
    const member = upstream.pick(req);
    if (!member) {
      log('proxy').error({ backend: plan.route.target, url: req.url }, `no member of ${plan.route.target} is available; answering 503`);
      if (!req.complete) res.shouldKeepAlive = false;
      answerPlain(res, 503);
      return;
    }
    const upgrade = this.tunnels !== null && isWebSocketUpgrade(req);
    const exchange = upgrade
      ? new UpgradeExchange(this.tunnels as WebSocketTunnels, req, res, req.socket, plan, upstream, member, false, session, observer)
      : new Exchange(req, res, req.socket, plan, upstream, member, expectsContinue(req), session, observer);
    const length = req.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || bodyOfUnknownLength(req);
    const headers = backendRequestHeaders(req, plan, exchange, member.host);
    if (session !== null) sessionRequestHeaders(headers, plan.session, session);
    member.dispatcher.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: plan.backendPath(url),
        headers,
        body: hasBody ? req : null,
        headersTimeout: plan.timeout,
        bodyTimeout: plan.timeout,
        upgrade: upgrade ? 'websocket' : null,
      },
      member.keepsConnection === true && !upgrade ? new KeepOnAbandon(exchange) : exchange,
    );
  }

  close(): Promise<void> {
    return this.upstreams.close();
  }

  upstreamFor(plan: ProxyPlan): Upstream {
    let upstream = this.upstreamOf.get(plan);
    if (upstream === undefined) {
      upstream = this.upstreams.get(plan.route.target);
      this.upstreamOf.set(plan, upstream);
    }
    return upstream;
  }
}
