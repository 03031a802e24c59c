// Turns accepted TCP connections of an https listener into TLS sockets for the HTTP server of
// one serving event loop. Per connection it reads the ClientHello's ticket key name (see
// client-hello.ts) to pick the context the handshake starts with, lets SNI pick the virtual
// host's certificate, stores and looks up sessions in the shared cache, and checks the client
// certificate against the SSLVerifyClient of the host the client asked for.
import type net from 'node:net';
import tls from 'node:tls';
import type { Settings } from '../config/types';
import { hostIndexFor } from '../child/router';
import { log, logs } from '../log/logger';
import type { TlsCache } from '../shm/tls-cache';
import { NEED_MORE, ticketKeyName } from './client-hello';
import { ServerContexts } from './contexts';
import type { TlsHost } from './settings';

export interface TerminatorOptions {
  settings: Settings;
  cache: TlsCache | null;
  /** ALPN protocols offered, most preferred first; none: no ALPN. */
  alpn?: string[];
}

/** A ClientHello longer than this (a TLS record and its header) is not read for a ticket. */
const MAX_HELLO_BYTES = 16384 + 5;

export class TlsTerminator {
  readonly contexts: ServerContexts;
  /** Carries the session cache events (tls.TLSSocket emits them on its `server`); never listens. */
  private readonly sessions = new tls.Server();
  private readonly requestCert: boolean;
  private readonly readsTickets: boolean;
  private readonly defaults = new Map<string, number>();

  constructor(private readonly o: TerminatorOptions) {
    const t = o.settings.tls;
    this.contexts = new ServerContexts(t, o.cache);
    // One handshake serves every virtual host of an address: a certificate is asked for when any
    // of them verifies clients, and each host's own SSLVerifyClient decides what it accepts.
    this.requestCert = t.hosts.some((h) => h !== null && h.verifyClient !== 'none');
    this.readsTickets = t.sessionTickets && o.cache !== null;
    const cache = o.cache;
    if (cache !== null && cache.capacity > 0) {
      const timeoutSec = Math.ceil(t.sessionTimeout / 1000);
      this.sessions.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
        cache.store(id, data, Math.floor(Date.now() / 1000) + timeoutSec);
        done();
      });
      this.sessions.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
        done(null, cache.lookup(id, Math.floor(Date.now() / 1000)));
      });
    }
  }

  /** Starts the handshake; `onSecure` gets the TLS socket once it is done and the client is let in.
   * A connection that fails, or does not finish within Timeout, is destroyed. */
  accept(socket: net.Socket, onSecure: (secure: tls.TLSSocket) => void): void {
    const timer = setTimeout(() => socket.destroy(), this.o.settings.timeout);
    socket.once('close', () => clearTimeout(timer));
    if (!this.readsTickets) {
      this.handshake(socket, null, timer, onSecure);
      return;
    }
    let data: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      const name = ticketKeyName(data);
      if (name === NEED_MORE && data.length < MAX_HELLO_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      // The TLS socket reads what is buffered before it reads the connection.
      socket.unshift(data);
      this.handshake(socket, name === NEED_MORE ? null : name, timer, onSecure);
    };
    socket.on('data', onData);
  }

  private handshake(socket: net.Socket, ticketKey: Buffer | null, timer: NodeJS.Timeout, onSecure: (secure: tls.TLSSocket) => void): void {
    const settings = this.o.settings;
    const local = this.defaultHost(socket);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      server: this.sessions,
      secureContext: this.contexts.initial(local, ticketKey),
      requestCert: this.requestCert,
      // Checked per host once the handshake is done (refuses()).
      rejectUnauthorized: false,
      SNICallback: (name, done) => {
        const index = this.hostFor(socket, name);
        done(null, index === local ? undefined : this.contexts.host(index));
      },
      ...(this.o.alpn && { ALPNProtocols: this.o.alpn }),
    });
    const onError = (err: NodeJS.ErrnoException): void => {
      if (logs('ssl', 'debug')) log('ssl').debug({ client: socket.remoteAddress, err: err.code ?? err.message }, 'TLS handshake failed');
      secure.destroy();
    };
    secure.on('error', onError);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      const index = typeof secure.servername === 'string' ? this.hostFor(socket, secure.servername) : local;
      const host = settings.tls.hosts[index];
      const refusal = host ? refuses(secure, host) : null;
      if (refusal !== null) {
        log('ssl').info({ client: socket.remoteAddress, host: host?.label }, `client certificate refused (SSLVerifyClient ${host?.verifyClient}): ${refusal}`);
        secure.destroy();
        return;
      }
      onSecure(secure);
    });
  }

  /** The host a connection to this address serves when the client names none (or one without
   * a certificate): the address's first virtual host, else the main server, else the first host
   * with a certificate. */
  private defaultHost(socket: net.Socket): number {
    const key = `${socket.localAddress}|${socket.localPort}`;
    let index = this.defaults.get(key);
    if (index === undefined) {
      const hosts = this.o.settings.tls.hosts;
      const first = hostIndexFor(this.o.settings, socket.localAddress, socket.localPort, undefined);
      index = hosts[first] ? first : hosts[0] ? 0 : hosts.findIndex((h) => h !== null);
      this.defaults.set(key, index);
    }
    return index;
  }

  private hostFor(socket: net.Socket, servername: string): number {
    const index = hostIndexFor(this.o.settings, socket.localAddress, socket.localPort, servername);
    return this.o.settings.tls.hosts[index] ? index : this.defaultHost(socket);
  }
}

/** Why SSLVerifyClient refuses this client, or null. */
function refuses(secure: tls.TLSSocket, host: TlsHost): string | null {
  const mode = host.verifyClient;
  if (mode === 'none' || mode === 'optional_no_ca') return null;
  const peer = secure.getPeerCertificate(true);
  if (peer === null || peer.raw === undefined) return mode === 'require' ? 'no certificate presented' : null;
  if (!secure.authorized) return String(secure.authorizationError);
  let depth = 0;
  for (let c = peer; c.issuerCertificate && c.issuerCertificate !== c && depth <= host.verifyDepth; c = c.issuerCertificate) depth++;
  if (depth > host.verifyDepth) return `its chain is deeper than SSLVerifyDepth ${host.verifyDepth}`;
  return null;
}
