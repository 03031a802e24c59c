// Helpers for the reverse-proxy tests: backends that record what reaches them (Node http servers,
// and raw sockets where the bytes matter), raw client exchanges, streams of generated data with
// their checksums, the children's memory, and a certificate chain for TLS backends.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Readable, Transform } from 'node:stream';
import type { TestContext } from 'node:test';
import forge from 'node-forge';
import { childPids, type Daemon, type LogLine } from './daemon';
import { launch } from './mpm';
import { closeServer } from './close-server';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  /** The request ended before the backend's response did: the proxy aborted it. */
  aborted: boolean;
}

export interface TestBackend {
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  seen: SeenRequest[];
}

export type Handle = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

/** Answers with what it saw: method, url, headers and body length, as JSON. */
export const echo: Handle = (req, res) => {
  let length = 0;
  req.on('data', (c: Buffer) => (length += c.length));
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};

/** Listens on 127.0.0.1; when the test ends, drops the connections still open and closes. */
async function listenForTest(t: TestContext, server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => closeServer(server, sockets));
  return (server.address() as net.AddressInfo).port;
}

/** An http backend on 127.0.0.1 that records each request, then lets `handle` answer it. */
export async function httpBackend(t: TestContext, handle: Handle = echo, server = http.createServer()): Promise<TestBackend> {
  const seen: SeenRequest[] = [];
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const s: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, aborted: false };
    seen.push(s);
    res.on('close', () => (s.aborted = !res.writableFinished));
    handle(req, res, s);
  });
  const port = await listenForTest(t, server);
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return { port, url: `${scheme}://127.0.0.1:${port}`, seen };
}

export interface RawBackend {
  port: number;
  url: string;
  /** Every byte received, all connections together. */
  received(): Buffer;
}

/** A TCP backend that records the bytes it receives; `onData`, given all that this connection
 * sent so far, decides what happens next. */
export async function rawBackend(t: TestContext, onData: (socket: net.Socket, sofar: Buffer) => void = () => undefined): Promise<RawBackend> {
  const chunks: Buffer[] = [];
  const server = net.createServer((socket) => {
    let sofar = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      sofar = Buffer.concat([sofar, d]);
      onData(socket, sofar);
    });
  });
  const port = await listenForTest(t, server);
  return { port, url: `http://127.0.0.1:${port}`, received: () => Buffer.concat(chunks) };
}

/** A daemon with one child running `lines` (Listen, logs and pid file are added). */
export function proxyDaemon(t: TestContext, lines: string[], o: { port?: number } = {}): Promise<Daemon> {
  return launch(t, { config: ['StartServers 1', ...lines].join('\n'), ...o });
}

export interface RawReply {
  text: string;
  /** The server closed the connection (within the wait). */
  closed: boolean;
}

/**
 * Writes `parts` on a fresh connection (`pauseMs` apart) and collects what comes back until the
 * server closes the connection, or nothing more arrives for `idleMs`.
 */
export function rawExchange(port: number, parts: Array<string | Buffer>, o: { idleMs?: number; pauseMs?: number } = {}): Promise<RawReply> {
  const idleMs = o.idleMs ?? 1000;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    let written = false;
    const finish = (closed: boolean) => {
      clearTimeout(idle);
      socket.destroy();
      resolve({ text: Buffer.concat(got).toString('latin1'), closed });
    };
    const wait = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), idleMs);
    };
    socket.on('data', (d: Buffer) => {
      got.push(d);
      if (written) wait();
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.on('connect', () => {
      void (async () => {
        for (const [i, part] of parts.entries()) {
          if (i > 0 && o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
          socket.write(part);
        }
        written = true;
        wait();
      })();
    });
  });
}

/** The status line's code and the header fields (names in lower case) of a raw reply. */
export function parseHead(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const [line, ...fields] = text.slice(0, end < 0 ? text.length : end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(':');
    headers[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
  }
  return { status: Number(line.split(' ')[1]), headers, body: end < 0 ? '' : text.slice(end + 4) };
}

/** `size` bytes of random data, in 64 KiB chunks (each one different), as fast as the reader takes them. */
export function noise(size: number): Readable {
  const pool = crypto.randomBytes(1 << 20);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(65536, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      pool.copy(chunk, 0, sent % pool.length, (sent % pool.length) + n);
      if (n >= 8) chunk.writeDoubleLE(sent, 0);
      sent += n;
      this.push(chunk);
    },
  });
}

/** Passes a stream through, counting and hashing what went by. */
export function metered(source: Readable): { stream: Readable; bytes: () => number; digest: () => { sha256: string; length: number } } {
  const hash = crypto.createHash('sha256');
  let length = 0;
  const stream = source.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        length += chunk.length;
        done(null, chunk);
      },
    }),
  );
  return { stream, bytes: () => length, digest: () => ({ sha256: hash.digest('hex'), length }) };
}

/** The SHA-256 of everything a stream yields, and its length. */
export async function digest(stream: AsyncIterable<Buffer>): Promise<{ sha256: string; length: number }> {
  const hash = crypto.createHash('sha256');
  let length = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    length += chunk.length;
  }
  return { sha256: hash.digest('hex'), length };
}

/** Resident memory of the daemon's children, in MiB. */
export function childrenRssMiB(daemon: Daemon): number {
  let kib = 0;
  for (const pid of childPids(daemon.pid)) {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    kib += m ? Number(m[1]) : 0;
  }
  return kib / 1024;
}

/** The error-log lines at or above info whose message matches. */
export function logged(daemon: Daemon, msg: RegExp): LogLine[] {
  return daemon.log().filter((l) => msg.test(l.msg));
}

export interface CertificateChain {
  caPem: string;
  /** The server's certificate, issued by the CA, for 127.0.0.1 and localhost. */
  certPem: string;
  keyPem: string;
}

function certificate(subject: string, publicKey: forge.pki.PublicKey, issuer: forge.pki.Certificate | null, signer: forge.pki.rsa.PrivateKey): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = crypto.randomBytes(8).toString('hex').replace(/^[89a-f]/, '1');
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer((issuer ?? cert).subject.attributes);
  cert.setExtensions(
    issuer === null
      ? [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]
      : [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  );
  cert.sign(signer, forge.md.sha256.create());
  return cert;
}

/** A private CA and a server certificate it issued (keys from Node's crypto: forge's are slow). */
export function certificateChain(): CertificateChain {
  const pair = () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      pub: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      priv: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey,
    };
  };
  const ca = pair();
  const caCert = certificate('mpmproxy test CA', ca.pub, null, ca.priv);
  const leaf = pair();
  const leafCert = certificate('127.0.0.1', leaf.pub, caCert, ca.priv);
  return { caPem: forge.pki.certificateToPem(caCert), certPem: forge.pki.certificateToPem(leafCert), keyPem: leaf.keyPem };
}
