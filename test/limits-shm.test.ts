// The pieces of the limits under the daemon: the limits segment (its documented layout, its
// counts, a dead child's reclaim, many processes counting at once), client addresses, the
// multipart scanner and MinRate's arithmetic.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { hashClientAddress, parseClientAddress } from '../src/limits/client-address';
import { MultipartScanner, multipartBoundary } from '../src/limits/multipart';
import { stageLimit } from '../src/limits/read-timeouts';
import {
  clientEntryLayout,
  clientSlotsFor,
  LimitCounters,
  limitsHeaderLayout,
  limitsProcessLayout,
  REFUSED_CLIENTS,
  REFUSED_PER_CLIENT,
} from '../src/shm/limits';

test('the limits segment layout is the one documented at the top of src/shm/limits.ts', () => {
  const source = readFileSync(path.join(__dirname, '..', '..', 'src', 'shm', 'limits.ts'), 'utf8');
  const tables: Record<string, { size: number; offsets: Record<string, number> }> = {};
  let current: { size: number; offsets: Record<string, number> } | undefined;
  for (const line of source.split('\n')) {
    const heading = /^\/\/\s+(Header|Process record|Client entry): (\d+) bytes/.exec(line);
    if (heading) tables[heading[1]] = current = { size: Number(heading[2]), offsets: {} };
    const row = /^\/\/\s+\|\s*(\d+)\s*\|\s*\S+\s*\|\s*(\w+)\s*\|/.exec(line);
    if (row && current) current.offsets[row[2]] = Number(row[1]);
  }
  const layout = (l: { size: number; offsets: Record<string, number> }) => ({ size: l.size, offsets: { ...l.offsets } });
  assert.deepEqual(tables, {
    Header: layout(limitsHeaderLayout),
    'Process record': layout(limitsProcessLayout),
    'Client entry': layout(clientEntryLayout),
  });
  assert.equal(LimitCounters.byteLength(16, 1024), 64 + 128 + 16 * 64 + 1024 * 32 + 16 * 1024 * 4);
});

const address = (text: string): Int32Array => {
  const a = new Int32Array(4);
  assert.ok(parseClientAddress(text, a), text);
  return a;
};

test('client addresses: IPv4 and its mapped IPv6 form are one client; IPv6 forms parse; junk does not', () => {
  assert.deepEqual([...address('10.1.2.3')], [0, 0, 0xffff, 0x0a010203]);
  assert.deepEqual([...address('::ffff:10.1.2.3')], [...address('10.1.2.3')]);
  assert.deepEqual([...address('::1')], [0, 0, 0, 1]);
  assert.deepEqual([...address('2001:db8::8:800:200c:417a')], [0x20010db8, 0, 0x00080800, 0x200c417a]);
  assert.deepEqual([...address('fe80::1%eth0')], [...address('fe80::1')]);
  assert.deepEqual([...address('1:2:3:4:5:6:7:8')], [0x10002, 0x30004, 0x50006, 0x70008]);
  for (const bad of ['', '1.2.3', '1.2.3.256', 'a.b.c.d', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':1', '1:']) {
    assert.equal(parseClientAddress(bad, new Int32Array(4)), false, bad);
  }
  assert.notEqual(hashClientAddress(address('127.0.0.1')), hashClientAddress(address('127.0.0.2')));
});

function counters(serverLimit = 4, slots = 1024): LimitCounters {
  return LimitCounters.create(new ArrayBuffer(LimitCounters.byteLength(serverLimit, slots)), serverLimit, slots);
}

const admit = (c: LimitCounters, ip: string, slot: number, perClient = 0, clients = 0) => {
  const a = address(ip);
  return c.admitClient(a, hashClientAddress(a), slot, perClient, clients);
};

test('counters: clients and connections per client over several processes, released exactly', () => {
  const c = counters();
  const a1 = admit(c, '10.0.0.1', 0, 2, 2);
  const a2 = admit(c, '10.0.0.1', 1, 2, 2);
  assert.ok(a1 >= 0 && a2 >= 0);
  assert.equal(admit(c, '10.0.0.1', 2, 2, 2), REFUSED_PER_CLIENT);
  const b = admit(c, '10.0.0.2', 3, 2, 2);
  assert.equal(admit(c, '10.0.0.3', 0, 2, 2), REFUSED_CLIENTS);
  assert.deepEqual([c.clients(), c.clientConnections(a1)], [2, 2]);
  c.releaseClient(b, 3);
  assert.ok(admit(c, '10.0.0.3', 0, 2, 2) >= 0, 'a departed client frees its place');
  assert.ok(c.enterRequest(a1, 0, 2) && c.enterRequest(a2, 1, 2));
  assert.equal(c.enterRequest(a1, 0, 2), false);
  c.leaveRequest(a1, 0);
  assert.equal(c.clientRequests(a1), 1);
  c.releaseClient(a1, 0);
  c.releaseClient(a2, 1);
  assert.equal(c.clients(), 1);
  assert.equal(c.addConnection(1), 1);
  assert.equal(c.addConnection(2), 2);
  c.removeConnection(1);
  assert.equal(c.connections(), 1);
});

test('counters: a dead child\'s share is reclaimed, whatever it held, and a second reclaim changes nothing', () => {
  const c = counters();
  const kept = admit(c, '10.0.0.1', 0);
  for (let i = 0; i < 5; i++) admit(c, '10.0.0.1', 1);
  const lost = admit(c, '10.0.0.2', 1);
  c.enterRequest(lost, 1, 10);
  c.addConnection(0);
  for (let i = 0; i < 6; i++) c.addConnection(1);
  assert.deepEqual([c.clients(), c.clientConnections(kept), c.connections()], [2, 6, 7]);
  c.reclaim(1);
  c.reclaim(1);
  assert.deepEqual([c.clients(), c.clientConnections(kept), c.clientRequests(lost), c.connections()], [1, 1, 0, 1]);
});

test('counters: a dormant entry goes to a new address; the old handle then counts nothing', () => {
  const c = counters(1, 1024);
  const old = admit(c, '10.0.0.1', 0);
  c.releaseClient(old, 0);
  // Fill the table so that addresses must reuse dormant entries.
  for (let i = 0; i < 1024; i++) {
    const h = admit(c, `10.1.${i >> 8}.${i & 255}`, 0);
    assert.ok(h >= 0, `address ${i}`);
    c.releaseClient(h, 0);
  }
  assert.equal(c.clients(), 0);
  const fresh = admit(c, '10.2.0.1', 0);
  c.releaseClient(old, 0); // stale: must not touch the entry's new address
  assert.equal(c.clientConnections(fresh), 1);
});

test('counters: processes admitting and releasing at once keep exact counts (4 threads × 20,000)', async () => {
  const bytes = LimitCounters.byteLength(4, 1024);
  const shared = new SharedArrayBuffer(bytes);
  LimitCounters.create(shared, 4, 1024);
  const script = `
    const { workerData } = require('node:worker_threads');
    const { LimitCounters } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'shm', 'limits.js'))});
    const { hashClientAddress, parseClientAddress } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'limits', 'client-address.js'))});
    const c = LimitCounters.attach(workerData.buffer);
    const a = new Int32Array(4);
    const held = [];
    for (let i = 0; i < 20000; i++) {
      parseClientAddress('10.0.0.' + (i % 7), a);
      const h = c.admitClient(a, hashClientAddress(a), workerData.slot, 0, 0);
      if (h < 0) throw new Error('refused ' + h);
      held.push(h);
      if (held.length > 3) c.releaseClient(held.shift(), workerData.slot);
    }
    for (const h of held) c.releaseClient(h, workerData.slot);
  `;
  await Promise.all(
    [0, 1, 2, 3].map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(script, { eval: true, workerData: { buffer: shared, slot } });
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
        }),
    ),
  );
  const c = LimitCounters.attach(shared);
  assert.equal(c.clients(), 0);
  for (let i = 0; i < 7; i++) {
    const h = admit(c, `10.0.0.${i}`, 0);
    assert.equal(c.clientConnections(h), 1, `10.0.0.${i}`);
  }
});

test('client slots: twice the connections the server can hold, a power of two, within 64 MiB of shares', () => {
  assert.equal(clientSlotsFor(16, 256, 2), 32768);
  assert.equal(clientSlotsFor(256, 1, 0), 1024);
  assert.ok(20000 * clientSlotsFor(20000, 20000, 2) * 4 <= 64 * 2 ** 20 || clientSlotsFor(20000, 20000, 2) === 1024);
});

test('multipart: file parts are measured across chunk edges; fields are not files', () => {
  assert.equal(multipartBoundary('multipart/form-data; boundary="a b"'), 'a b');
  assert.equal(multipartBoundary('multipart/form-data;boundary=xyz'), 'xyz');
  assert.equal(multipartBoundary('text/plain; boundary=xyz'), null);
  const body = (size: number) =>
    Buffer.from(
      '--xyz\r\nContent-Disposition: form-data; name="n"\r\n\r\n' + 'n'.repeat(500) + '\r\n' +
        '--xyz\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n' + 'f'.repeat(size) + '\r\n--xyz--\r\n',
    );
  const feed = (buf: Buffer, limit: number, piece: number) => {
    const s = new MultipartScanner('xyz', limit);
    for (let at = 0; at < buf.length; at += piece) if (!s.write(buf.subarray(at, at + piece))) return false;
    return true;
  };
  for (const piece of [1, 3, 7, 1000]) {
    assert.equal(feed(body(100), 100, piece), true, `exactly the limit, pieces of ${piece}`);
    assert.equal(feed(body(101), 100, piece), false, `one byte over, pieces of ${piece}`);
    assert.equal(feed(body(50), 400, piece), true, `a field larger than the limit, pieces of ${piece}`);
  }
});

test('MinRate stretches a stage by a second per MinRate bytes, up to its maximum', () => {
  assert.equal(stageLimit({ timeout: 20_000, max: 40_000, minRate: 500 }, 0), 20_000);
  assert.equal(stageLimit({ timeout: 20_000, max: 40_000, minRate: 500 }, 5_000), 30_000);
  assert.equal(stageLimit({ timeout: 20_000, max: 40_000, minRate: 500 }, 500_000), 40_000);
  assert.equal(stageLimit({ timeout: 20_000, max: 0, minRate: 500 }, 500_000), 1_020_000);
  assert.equal(stageLimit({ timeout: 5_000, max: 0, minRate: 0 }, 500_000), 5_000);
});
