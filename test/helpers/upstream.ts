// What the upstream tests run against: backends that say who they are and count what they see
// (requests, open connections, health probes), https backends with certificates made by openssl
// at test time, and a CONNECT proxy with basic authentication.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { request, tempDir } from './daemon';
import type { Daemon, HttpResult } from './daemon';
import { closeServer } from './close-server';

export interface NamedBackend {
  name: string;
  port: number;
  url: string;
  /** Requests other than health probes. */
  requests: number;
  /** Health probes (requests with the prober's user agent). */
  probes: number;
  probeTimes: number[];
  /** Connections open now, and the most seen at once. */
  connections: number;
  maxConnections: number;
  /** Status the health URI answers. */
  healthStatus: number;
  /** Each answer (not probes) waits this long. */
  delayMs: number;
  /** The client certificate's subject CN of the last TLS request, if one was presented. */
  lastClientCn: string | null;
  close(): Promise<void>;
}

export interface NamedBackendOptions {
  delayMs?: number;
  /** Serve https with these PEM files. */
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean };
  host?: string;
}

/** A backend answering `name` (200, text/plain) to every path; /health answers healthStatus. */
export async function namedBackend(t: TestContext, name: string, o: NamedBackendOptions = {}): Promise<NamedBackend> {
  const sockets = new Set<net.Socket>();
  const state: NamedBackend = {
    name,
    port: 0,
    url: '',
    requests: 0,
    probes: 0,
    probeTimes: [],
    connections: 0,
    maxConnections: 0,
    healthStatus: 200,
    delayMs: o.delayMs ?? 0,
    lastClientCn: null,
    close: async () => undefined,
  };
  const handler: http.RequestListener = (req, res) => {
    if (req.headers['user-agent'] === 'mpmproxy-hcheck') {
      state.probes++;
      state.probeTimes.push(Date.now());
      res.writeHead(state.healthStatus, { 'content-type': 'text/plain' });
      res.end(`${name} health\n`);
      return;
    }
    state.requests++;
    const socket = req.socket as net.Socket & { getPeerCertificate?: () => { subject?: { CN?: string } } };
    state.lastClientCn = socket.getPeerCertificate?.()?.subject?.CN ?? null;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(name);
    };
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  };
  const server = o.tls
    ? https.createServer(
        { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: o.tls.requestCert ?? false, rejectUnauthorized: false },
        handler,
      )
    : http.createServer(handler);
  server.keepAliveTimeout = 10000;
  server.on(o.tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    state.maxConnections = Math.max(state.maxConnections, ++state.connections);
    s.on('close', () => {
      sockets.delete(s);
      state.connections--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, o.host ?? '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.url = `${o.tls ? 'https' : 'http'}://${o.host ?? '127.0.0.1'}:${state.port}`;
  state.close = () => closeServer(server, sockets);
  t.after(() => state.close());
  return state;
}

/** A port on which nothing listens: connecting is refused. */
export async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Sends `n` requests one after another, each on a fresh connection, and counts who answered. */
export async function tally(d: Daemon, urlPath: string, n: number, headers?: http.OutgoingHttpHeaders): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await request(d.port, urlPath, { headers });
    const key = r.status === 200 ? r.body.toString() : `HTTP_${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function answerOf(r: HttpResult): string {
  return r.status === 200 ? r.body.toString() : `HTTP_${r.status}`;
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface TestPki {
  dir: string;
  /** The CA's certificate file. */
  caFile: string;
  ca: string;
  /** A CA that signed nothing here. */
  otherCaFile: string;
  /** Server certificate and key for `names` (DNS names and IPs). */
  server(names: string[]): { cert: string; key: string };
  /** Client certificate and key in one PEM file, signed by the CA, subject CN=`cn`. */
  clientFile(cn: string): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A private CA made with openssl (EC keys: fast), in a folder removed after the test. */
export function makePki(t: TestContext): TestPki {
  const dir = tempDir('mpmproxy-pki-');
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  const newCa = (name: string) =>
    openssl(dir, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    ]);
  newCa('test-ca');
  newCa('other-ca');
  let serial = 0;
  const issue = (name: string, subject: string, extensions: string): void => {
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
    openssl(dir, [
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key', '-set_serial', String(++serial),
      '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
    ]);
  };
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    caFile: path.join(dir, 'test-ca.pem'),
    ca: read('test-ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    server(names) {
      const name = `server-${serial + 1}`;
      const san = names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      issue(name, `/CN=${names[0]}`, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
    },
    clientFile(cn) {
      const name = `client-${serial + 1}`;
      issue(name, `/CN=${cn}`, 'extendedKeyUsage=clientAuth\n');
      const file = path.join(dir, `${name}-bundle.pem`);
      fs.writeFileSync(file, read(`${name}.pem`) + read(`${name}.key`));
      return file;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A forward proxy

export interface ConnectProxy {
  port: number;
  /** CONNECT requests answered 200 (tunnels opened), and the targets asked for. */
  tunnels: number;
  targets: string[];
  /** Requests refused with 407. */
  refused: number;
}

/** An HTTP proxy that opens CONNECT tunnels for clients sending `user:pass` as basic credentials. */
export async function connectProxy(t: TestContext, user: string, pass: string): Promise<ConnectProxy> {
  const expected = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const state: ConnectProxy = { port: 0, tunnels: 0, targets: [], refused: 0 };
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(501);
    res.end();
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    state.targets.push(req.url ?? '');
    if (req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      state.tunnels++;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', close);
    client.on('error', close);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.after(() => closeServer(server, sockets));
  return state;
}

// ---------------------------------------------------------------------------------------------
// /proc

/** Established TCP connections to `port` on loopback, by the pid holding them. */
export function connectionsTo(port: number, pids: number[]): Map<number, number> {
  const inodes = new Set<string>();
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01') continue;
    if (Number.parseInt(f[2].split(':')[1], 16) === port) inodes.add(f[9]);
  }
  const counts = new Map<number, number>();
  for (const pid of pids) {
    let n = 0;
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode !== undefined && inodes.has(inode)) n++;
      } catch {
        // The descriptor closed while we looked.
      }
    }
    counts.set(pid, n);
  }
  return counts;
}
