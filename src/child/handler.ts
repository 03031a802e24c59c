// Turns a request into its route's answer: server-status, the default page, a backend, or 404.
// Requests whose framing is ambiguous, or whose target is not a path, are refused first.
import type http from 'node:http';
import type { Settings } from '../config/types';
import { clientOriginOf } from '../proxy/client-origin';
import type { ProxyForwarder } from '../proxy/forward';
import { framingRefusal, logRefusal, type Refusal } from '../proxy/framing';
import { answerPlain } from '../proxy/plain-answer';
import type { ProxyPlan } from '../proxy/route-plan';
import type { Begun, SessionLayer } from '../session/session-layer';
import { matchRoute, onlyServedRoutes, routingTarget, servedRoutesFor } from './router';
import { serveDefaultPage } from './default-page';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HandlerParts {
  settings: Settings;
  forwarder: ProxyForwarder;
  serveStatus: RequestHandler;
  /** Null when no path has sessions. */
  sessions: SessionLayer | null;
}

const badTarget: Refusal = { status: 400, reason: 'the request target is not a path, or climbs above /' };

function refuse(req: http.IncomingMessage, res: http.ServerResponse, r: Refusal): void {
  logRefusal(req.socket, r);
  res.shouldKeepAlive = false;
  answerPlain(res, r.status);
}

/** The routes of the server or virtual host the request came to. */
function hostRoutes(settings: Settings, req: http.IncomingMessage) {
  const at = clientOriginOf(req) ?? req.socket;
  return servedRoutesFor(settings, at.localAddress, at.localPort, req.headers.host);
}

export function createHandler(p: HandlerParts): RequestHandler {
  // Without virtual hosts, a connection's local address (a getsockname call) is never needed.
  const routes = onlyServedRoutes(p.settings);
  return (req, res) => {
    const refusal = framingRefusal(req);
    if (refusal !== null) return refuse(req, res, refusal);
    const url = routingTarget(req.url ?? '/');
    if (url === null) return refuse(req, res, badTarget);
    const route = matchRoute(routes ?? hostRoutes(p.settings, req), url);
    if (!route) return answerPlain(res, 404);
    switch (route.kind) {
      case 'status':
        return p.serveStatus(req, res);
      case 'page':
        return serveDefaultPage(req, res);
      case 'exclude':
        return answerPlain(res, 404);
      case 'proxy':
        if (p.sessions !== null && route.session.enabled) return withSession(p.sessions, p.forwarder, req, res, route, url);
        return p.forwarder.forward(req, res, route, url, null);
    }
  };
}

function withSession(sessions: SessionLayer, forwarder: ProxyForwarder, req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan, url: string): void {
  const begun = sessions.begin(req, res, plan.session);
  if (begun instanceof Promise) void begun.then((session) => forwardBegun(forwarder, req, res, plan, url, session));
  else forwardBegun(forwarder, req, res, plan, url, begun);
}

function forwardBegun(forwarder: ProxyForwarder, req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan, url: string, session: Begun): void {
  // Answered by the session step, or the client left while the store was asked.
  if (session === null || res.destroyed) return;
  forwarder.forward(req, res, plan, url, session);
}
