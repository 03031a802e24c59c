// TLS session resumption across children: 100 connections of a client that keeps its session,
// spread over two children, resume on every connection after the first, by session ID (TLS 1.2,
// tickets off, the shared cache), by ticket (TLS 1.2 and 1.3, the shared ticket key, no cache);
// still after a graceful restart, and after a key rotation (one key back), but not two keys back.
// TLS 1.3 handshakes, which resume by ticket only, neither store sessions in the shared cache nor
// look them up there.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import tls from 'node:tls';
import { native } from '../src/native';
import { TlsCache, type CacheCounters } from '../src/shm/tls-cache';
import { tlsCacheSegmentName } from '../src/shm/tls-cache-segment';
import { freePort, waitFor, type Daemon } from './helpers/daemon';
import { daemonFor, statusLocation, testDir } from './helpers/cli';
import { issue, writePems } from './helpers/pki';

type Version = 'TLSv1.2' | 'TLSv1.3';

interface Handshake {
  reused: boolean;
  session: Buffer | undefined;
}

/** One connection: the handshake, one request, and the session the server left the client with. */
function connect(port: number, version: Version, ca: string, session?: Buffer, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, session, minVersion: version, maxVersion: version, ...options }, () => {
      socket.write('GET /server-status?auto HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('data', () => undefined);
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), session: latest }));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
  });
}

/** `n` connections: the first full, the rest offering the newest session, ten at a time. */
async function resumeRun(port: number, version: Version, ca: string, n = 100): Promise<{ reused: boolean[]; session: Buffer }> {
  const first = await connect(port, version, ca);
  let session = first.session;
  assert.ok(session, 'the server gave no session');
  const reused = [first.reused];
  for (let i = 1; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => connect(port, version, ca, session)));
    for (const h of batch) {
      reused.push(h.reused);
      session = h.session ?? session;
    }
  }
  return { reused, session: session as Buffer };
}

async function servedBy(d: Daemon): Promise<number> {
  const s = await d.status();
  return s.processes.filter((p) => p.connsTotal > 1).length;
}

/** The shared cache's counters, read from its segment as a child reads it. */
function cacheCounters(d: Daemon): CacheCounters {
  return TlsCache.attach(native.shmOpen(tlsCacheSegmentName(d.proc.pid ?? 0), 0, false)).counters();
}

async function tlsDaemon(t: Parameters<typeof daemonFor>[0] & { name: string }, dir: string, tlsPort: number, lines: string[]): Promise<Daemon> {
  return daemonFor(t, {
    waitChildren: 2,
    config: ['Listen 127.0.0.1:@PORT@', `Listen 127.0.0.1:${tlsPort} https`, 'StartServers 2', 'MinSpareThreads 1', statusLocation, `SSLCertificateFile ${dir}/cert.pem`, `SSLCertificateKeyFile ${dir}/key.pem`, ...lines].join('\n'),
  });
}

test('resumption across children and restarts', async (t) => {
  const dir = testDir(t);
  const cert = issue('localhost', { names: ['localhost', '127.0.0.1'] });
  writePems(dir, { 'cert.pem': cert.certPem, 'key.pem': cert.keyPem });
  const ca = cert.certPem;

  await t.test('TLS 1.2 by session ID through the shared cache (tickets off)', async (t) => {
    const port = await freePort();
    const d = await tlsDaemon(t, dir, port, ['SSLSessionTickets off', 'SSLSessionCache shm:512K']);
    const run = await resumeRun(port, 'TLSv1.2', ca);
    assert.equal(run.reused[0], false);
    assert.deepEqual(run.reused.slice(1).filter((r) => !r).length, 0, `${run.reused.filter((r) => !r).length} of 100 not resumed`);
    assert.ok((await servedBy(d)) >= 2, 'one child served every connection');
    d.signal('SIGUSR1');
    await waitFor('the new generation', async () => (await d.status()).processes.filter((p) => p.generation === 1 && p.stopping === 0).length >= 2);
    await waitFor('the old children gone', async () => (await d.status()).processes.every((p) => p.generation === 1));
    for (let i = 0; i < 10; i++) assert.equal((await connect(port, 'TLSv1.2', ca, run.session)).reused, true, 'not resumed after a graceful restart');
  });

  await t.test('without a shared cache or tickets a session resumes only on the child that made it', async (t) => {
    const port = await freePort();
    const d = await tlsDaemon(t, dir, port, ['SSLSessionTickets off']);
    // Until both children have served some of the connections (one may take them all for a
    // while on a busy machine).
    const reused: boolean[] = [];
    for (let i = 0; i < 10 && (reused.length === 0 || (await servedBy(d)) < 2); i++) reused.push(...(await resumeRun(port, 'TLSv1.2', ca, 40)).reused.slice(1));
    assert.ok((await servedBy(d)) >= 2, 'one child served every connection');
    assert.ok(reused.some((r) => !r), 'every connection resumed: the test cannot tell a shared cache from none');
  });

  await t.test('tickets (no session cache): TLS 1.2 and 1.3, graceful restart, key rotation', async (t) => {
    const port = await freePort();
    const d = await tlsDaemon(t, dir, port, ['SSLSessionTickets on', 'SSLSessionCache none', 'SSLSessionTicketKeyRotation 4s']);
    const sessions: Partial<Record<Version, Buffer>> = {};
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const run = await resumeRun(port, version, ca);
      assert.equal(run.reused[0], false);
      assert.equal(run.reused.slice(1).filter((r) => !r).length, 0, `${version}: ${run.reused.filter((r) => !r).length} of 100 not resumed`);
      sessions[version] = run.session;
    }
    assert.ok((await servedBy(d)) >= 2, 'one child served every connection');

    d.signal('SIGUSR1');
    await waitFor('the old children gone', async () => {
      const s = await d.status();
      return s.processes.length >= 2 && s.processes.every((p) => p.generation === 1);
    });
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      assert.equal((await connect(port, version, ca, sessions[version])).reused, true, `${version} not resumed after a graceful restart`);
    }

    // A session made just after a rotation resumes after the next one (one key back), not after
    // the one after that (two keys back).
    const generation = () => Math.max(0, ...d.log().filter((l) => l.msg === 'session ticket key rotated').map((l) => Number(l.generation)));
    const g = generation();
    await waitFor('a key rotation', () => generation() > g, 10000);
    const fresh: Partial<Record<Version, Buffer>> = {};
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) fresh[version] = (await connect(port, version, ca)).session;
    await waitFor('the next key rotation', () => generation() > g + 1, 10000);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      assert.equal((await connect(port, version, ca, fresh[version])).reused, true, `${version} not resumed one key back`);
    }
    await waitFor('one more key rotation', () => generation() > g + 2, 10000);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      assert.equal((await connect(port, version, ca, fresh[version])).reused, false, `${version} resumed two keys back`);
    }
  });

  for (const tickets of ['on', 'off']) {
    await t.test(`TLS 1.3 leaves the shared session cache alone, TLS 1.2 uses it (tickets ${tickets})`, async (t) => {
      const port = await freePort();
      const d = await tlsDaemon(t, dir, port, [`SSLSessionTickets ${tickets}`, 'SSLSessionCache shm:512K']);
      // Full handshakes, and with tickets on resumed ones (each issues tickets OpenSSL offers to the cache).
      const run = await resumeRun(port, 'TLSv1.3', ca, 20);
      // Without tickets Node issues a TLS 1.3 client no session at all: none resumes.
      const resumed = run.reused.slice(1).filter((r) => r).length;
      assert.equal(resumed, tickets === 'on' ? run.reused.length - 1 : 0, `resumed: ${run.reused.join(' ')}`);
      await connect(port, 'TLSv1.3', ca);
      const after13 = cacheCounters(d);
      assert.equal(after13.stores, 0, `TLS 1.3 sessions stored: ${JSON.stringify(after13)}`);
      if (tickets === 'on') assert.equal(after13.hits + after13.misses, 0, `TLS 1.3 lookups: ${JSON.stringify(after13)}`);
      // A client without tickets: the server gives it a session ID.
      const noTicket = { secureOptions: crypto.constants.SSL_OP_NO_TICKET };
      const first = await connect(port, 'TLSv1.2', ca, undefined, noTicket);
      assert.ok(cacheCounters(d).stores >= 1, 'a TLS 1.2 session was not stored');
      assert.equal((await connect(port, 'TLSv1.2', ca, first.session, noTicket)).reused, true, 'a TLS 1.2 session did not resume by ID');
    });
  }
});
