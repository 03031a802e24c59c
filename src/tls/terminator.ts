// Turns accepted TCP connections of an https listener into TLS sockets for the HTTP server of
// one serving event loop. Per connection it reads the ClientHello (see client-hello.ts) to pick
// the server the handshake starts on: Node's tls.Server holds one ticket key, so there is one per
// host and live key (the current and the previous), none of them listening; and a TLS 1.3
// handshake, which resumes by ticket only, starts on one that leaves the shared session cache
// alone (Node would otherwise stop every handshake to look its stand-in session ID up there, and
// hand over each ticket it issues to be stored). SNI then picks the virtual host's certificate,
// TLS 1.2 sessions go to and come from the shared cache, and the client certificate is checked
// against the SSLVerifyClient of the host the client asked for.
import type net from 'node:net';
import tls from 'node:tls';
import type { Settings } from '../config/types';
import { hostIndexFor } from '../child/router';
import { log, logs } from '../log/logger';
import type { TlsCache } from '../shm/tls-cache';
import { peekQueued } from '../native/socket-peek';
import { NEED_MORE, readClientHello, type HelloFacts } from './client-hello';
import { ignoreClientCertificate } from './client-cert';
import { HostContexts, secureContextOptions, TicketKeyChoice, tlsHost } from './contexts';
import { isTls13Session } from './session-version';
import type { TlsHost } from './settings';

export interface TerminatorOptions {
  settings: Settings;
  cache: TlsCache | null;
  /** ALPN protocols offered, most preferred first; none: no ALPN. */
  alpn?: string[];
  /** Gets each connection once its handshake is done and its client let in. */
  onSecure: (secure: tls.TLSSocket) => void;
}

/** A ClientHello longer than this (a TLS record and its header) is not read for a ticket. */
const MAX_HELLO_BYTES = 16384 + 5;

interface LocalAddress {
  ip: string | undefined;
  port: number | undefined;
}

interface Entry {
  server: tls.Server;
  key: Buffer | null;
}

/** A ClientHello not read (tickets off: nothing in it changes the server). */
const UNREAD: HelloFacts = { ticketKey: null, tls13: false };

export class TlsTerminator {
  private readonly sni: HostContexts;
  private readonly keys: TicketKeyChoice | null;
  /** Address, ticket key and use of the session cache → the server such a handshake starts on. */
  private readonly servers = new Map<string, Entry>();
  private readonly requestCert: boolean;
  private readonly defaults = new Map<string, number>();

  constructor(private readonly o: TerminatorOptions) {
    const t = o.settings.tls;
    this.sni = new HostContexts(t);
    this.keys = t.sessionTickets && o.cache !== null ? new TicketKeyChoice(o.cache) : null;
    // One handshake serves every virtual host of an address: a certificate is asked for when any
    // of them verifies clients, and each host's own SSLVerifyClient decides what it accepts.
    this.requestCert = t.hosts.some((h) => h !== null && h.verifyClient !== 'none');
  }

  /** Starts the handshake. A connection that fails it, or does not finish it within Timeout, is
   * destroyed. */
  accept(socket: net.Socket): void {
    if (this.keys === null) {
      this.handshake(socket, UNREAD);
      return;
    }
    // The ClientHello has mostly come by the time the connection is accepted: read where it is
    // queued, it stays there for Node's native TLS reader, and no byte passes through JavaScript.
    const queued = peekQueued(socket, MAX_HELLO_BYTES);
    const facts = queued.length === 0 ? NEED_MORE : readClientHello(queued);
    if (facts !== NEED_MORE) {
      this.handshake(socket, facts);
      return;
    }
    let data: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      const read = readClientHello(data);
      if (read === NEED_MORE && data.length < MAX_HELLO_BYTES) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      // The TLS socket reads what is buffered before it reads the connection.
      socket.unshift(data);
      this.handshake(socket, read === NEED_MORE ? UNREAD : read);
    };
    const timer = setTimeout(() => socket.destroy(), this.o.settings.timeout);
    socket.once('close', () => clearTimeout(timer));
    socket.on('data', onData);
  }

  private handshake(socket: net.Socket, hello: HelloFacts): void {
    const key = this.keys?.choose(hello.ticketKey) ?? null;
    const address = { ip: socket.localAddress, port: socket.localPort };
    // Offered TLS 1.3 by a client, a server that allows it chooses it; the first server's
    // context sets the versions, whichever host SNI then picks.
    const cached = !(hello.tls13 && tlsHost(this.o.settings.tls, this.defaultHost(address)).protocols.max === 'TLSv1.3');
    this.serverFor(address, key, cached).emit('connection', socket);
  }

  /** The server for connections to `address` whose tickets `key` seals and opens, and that
   * store and look up sessions in the shared cache when `cached`. */
  private serverFor(address: LocalAddress, key: Buffer | null, cached: boolean): tls.Server {
    const id = `${address.ip}|${address.port}|${key?.toString('hex', 0, 16) ?? ''}|${cached ? 'cached' : ''}`;
    let entry = this.servers.get(id);
    if (entry === undefined) {
      for (const [other, e] of this.servers) if (e.key !== null && !this.keys?.live(e.key)) this.servers.delete(other);
      entry = { server: this.createServer(address, key, cached), key };
      this.servers.set(id, entry);
    }
    return entry.server;
  }

  private createServer(address: LocalAddress, key: Buffer | null, cached: boolean): tls.Server {
    const s = this.o.settings;
    const host = this.defaultHost(address);
    const server = tls.createServer({
      ...secureContextOptions(tlsHost(s.tls, host), s.tls),
      ...(key !== null && { ticketKeys: key }),
      requestCert: this.requestCert,
      // Checked per host once the handshake is done (refuses()).
      rejectUnauthorized: false,
      handshakeTimeout: s.timeout,
      SNICallback: (name, done) => {
        const index = this.hostFor(address, name);
        done(null, index === host ? undefined : this.sni.get(index));
      },
      ...(this.o.alpn && { ALPNProtocols: this.o.alpn }),
    });
    server.on('secureConnection', (secure) => this.admit(secure, address));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, secure) => {
      if (logs('ssl', 'debug')) log('ssl').debug({ client: secure.remoteAddress, err: err.code ?? err.message }, 'TLS handshake failed');
    });
    const cache = this.o.cache;
    if (cached && cache !== null && cache.capacity > 0) {
      const timeoutSec = Math.ceil(s.tls.sessionTimeout / 1000);
      server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
        // OpenSSL hands over every TLS 1.3 ticket it issues too: stored, they would only push
        // out the TLS 1.2 sessions the cache is for.
        if (!isTls13Session(data)) cache.store(id, data, Math.floor(Date.now() / 1000) + timeoutSec);
        done();
      });
      server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
        done(null, cache.lookup(id, Math.floor(Date.now() / 1000)));
      });
    }
    return server;
  }

  private admit(secure: tls.TLSSocket, address: LocalAddress): void {
    const index = typeof secure.servername === 'string' ? this.hostFor(address, secure.servername) : this.defaultHost(address);
    const host = tlsHost(this.o.settings.tls, index);
    const refusal = refuses(secure, host);
    if (refusal !== null) {
      log('ssl').info({ client: secure.remoteAddress, host: host.label }, `client certificate refused (SSLVerifyClient ${host.verifyClient}): ${refusal}`);
      secure.destroy();
      return;
    }
    // A client that was not asked for a certificate sent none.
    if (this.requestCert && host.verifyClient === 'none') ignoreClientCertificate(secure);
    this.o.onSecure(secure);
  }

  /** The host a connection to this address serves when the client names none (or one without
   * a certificate): the address's first virtual host, else the main server, else the first host
   * with a certificate. */
  private defaultHost(address: LocalAddress): number {
    const key = `${address.ip}|${address.port}`;
    let index = this.defaults.get(key);
    if (index === undefined) {
      const hosts = this.o.settings.tls.hosts;
      const first = hostIndexFor(this.o.settings, address.ip, address.port, undefined);
      index = hosts[first] ? first : hosts[0] ? 0 : hosts.findIndex((h) => h !== null);
      this.defaults.set(key, index);
    }
    return index;
  }

  /** The host SNI names on a connection to `address`. */
  private hostFor(address: LocalAddress, servername: string): number {
    const index = hostIndexFor(this.o.settings, address.ip, address.port, servername);
    return this.o.settings.tls.hosts[index] ? index : this.defaultHost(address);
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
