// A proxied route as a serving event loop uses it: what every request on the route needs,
// computed once from the settings, so the request path reads fields and parses nothing.
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { ProxyRoute } from '../config/types';
import { ReverseMap } from './reverse';
import type { ClientCertHeaderNames } from '../tls/client-cert';

/** What a route takes from the server or virtual host it is served in. */
export interface HostFacts {
  /** ServerName as written (scheme and port allowed); null: the machine's host name. */
  serverName: string | null | undefined;
  trusted: net.BlockList | null;
  /** SSLClientCertHeaders; null when none are configured. */
  clientCert: ClientCertHeaderNames | null;
}

/** ProxyTrustedAddresses as the children check them; null when the list is empty. */
export function trustList(addresses: readonly string[]): net.BlockList | null {
  if (addresses.length === 0) return null;
  const list = new net.BlockList();
  for (const text of addresses) {
    const [ip, bits] = text.split('/');
    const family = net.isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return list;
}

const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

export class ProxyPlan {
  readonly kind = 'proxy' as const;
  readonly prefix: string;
  /** The route as configured: target, parameters, and where its ProxyPass was written. */
  readonly route: ProxyRoute;
  readonly preserveHost: boolean;
  readonly addHeaders: boolean;
  /** Per-request undici timeouts; undefined leaves the backend's own (timeout= on the ProxyPass). */
  readonly timeout: number | undefined;
  /** Which timeout that is, for the error log. */
  readonly timeoutText: string;
  readonly reverse: ReverseMap | null;
  /** The client certificate headers: never taken from the client, set from its TLS connection. */
  readonly clientCert: ClientCertHeaderNames | null;
  /** This server's name in Via and X-Forwarded-Server. */
  readonly serverName: string;
  private readonly via11: string;
  /** The target's path, and the same without its trailing slash for a rest that starts with one. */
  private readonly base: string;
  private readonly baseTrimmed: string;
  private readonly trusted: net.BlockList | null;

  constructor(route: ProxyRoute, host: HostFacts) {
    this.prefix = route.prefix;
    this.route = route;
    const o = route.proxy;
    this.preserveHost = o.preserveHost;
    this.addHeaders = o.addHeaders;
    const own = route.params.timeout;
    this.timeout = own === undefined ? o.timeout : undefined;
    this.timeoutText = own === undefined ? `${seconds(o.timeout)} (ProxyTimeout)` : `timeout=${own} of the ProxyPass`;
    this.reverse = o.reverse.length > 0 ? new ReverseMap(o.reverse) : null;
    this.serverName = (host.serverName ?? os.hostname()).replace(/^https?:\/\//, '');
    this.via11 = `1.1 ${this.serverName}`;
    // balancer://name has no path at all, where http://host has '/'.
    this.base = new URL(route.target).pathname || '/';
    this.baseTrimmed = this.base.endsWith('/') ? this.base.slice(0, -1) : this.base;
    this.trusted = host.trusted;
    this.clientCert = host.clientCert;
  }

  /** The backend's request target for a client's (path and query) under this route's prefix. */
  backendPath(url: string): string {
    const rest = url.slice(this.prefix.length);
    return (rest.charCodeAt(0) === 0x2f ? this.baseTrimmed : this.base) + rest;
  }

  trusts(socket: net.Socket): boolean {
    const address = socket.remoteAddress;
    return this.trusted !== null && address !== undefined && this.trusted.check(address, socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4');
  }

  /** Via names the protocol the message was received with. */
  via(req: http.IncomingMessage): string {
    return req.httpVersionMajor === 1 && req.httpVersionMinor === 1 ? this.via11 : `${req.httpVersion} ${this.serverName}`;
  }
}
