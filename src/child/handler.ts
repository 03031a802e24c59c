// Turns a request into its route's answer: server-status, the default page, a backend, or 404.
import type http from 'node:http';
import type { Settings } from '../config/types';
import type { Forwarder } from '../proxy/forward';
import { matchRoute, routesFor } from './router';
import { serveDefaultPage } from './default-page';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HandlerParts {
  settings: Settings;
  forwarder: Forwarder;
  serveStatus: RequestHandler;
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('404 Not Found\n');
}

const targets = new Map<string, URL>();

/** ProxyPass targets are few and fixed by the configuration: parse each once. */
function targetUrl(text: string): URL {
  let url = targets.get(text);
  if (!url) {
    url = new URL(text);
    targets.set(text, url);
  }
  return url;
}

export function createHandler(p: HandlerParts): RequestHandler {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const socket = req.socket;
    const route = matchRoute(routesFor(p.settings, socket.localAddress, socket.localPort, req.headers.host), path);
    if (!route) return notFound(res);
    switch (route.kind) {
      case 'status':
        return p.serveStatus(req, res);
      case 'page':
        return serveDefaultPage(req, res);
      case 'exclude':
        return notFound(res);
      case 'proxy': {
        const target = targetUrl(route.target);
        const rest = url.slice(route.prefix.length);
        const base = target.pathname.endsWith('/') && rest.startsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
        return p.forwarder.forward(req, res, target, base + rest);
      }
    }
  };
}
