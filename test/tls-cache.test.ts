// The TLS cache segment: sessions stored by one process are found by another, expire, give way
// oldest first, never come back torn (a writer SIGKILLed mid-store, two writers on one slot, a
// corrupted slot), and ticket keys rotate keeping the previous one readable.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, test } from 'node:test';
import { native } from '../src/native';
import { MAX_DATA_BYTES, TlsCache } from '../src/shm/tls-cache';
import { createTlsCacheSegment } from '../src/shm/tls-cache-segment';
import { sleep } from './helpers/daemon';
import { sessionData, sessionId as id } from './helpers/tls-cache-writer';

const name = `/mpmproxy-test-${process.pid}-tls`;
after(() => native.shmUnlink(name));

test('store, look up, expire, overwrite the oldest, refuse what does not fit', () => {
  const cache = TlsCache.create(new ArrayBuffer(TlsCache.byteLength(256 * 1024)), 256 * 1024);
  assert.ok(cache.capacity >= 100, `capacity ${cache.capacity}`);
  assert.equal(cache.store(id(1), sessionData(1), 1000), true);
  assert.deepEqual(cache.lookup(id(1), 999), sessionData(1));
  assert.equal(cache.lookup(id(1), 1000), null, 'expired');
  assert.equal(cache.lookup(id(2), 0), null);
  assert.equal(cache.store(id(3), Buffer.alloc(MAX_DATA_BYTES + 1), 1000), false);
  assert.equal(cache.counters().tooLarge, 1);
  for (let n = 10; n < 10 + cache.capacity * 3; n++) cache.store(id(n), sessionData(n), 1000);
  const last = 10 + cache.capacity * 3 - 1;
  assert.deepEqual(cache.lookup(id(last), 0), sessionData(last), 'the newest is kept');
  assert.equal(cache.lookup(id(10), 0), null, 'the oldest went');
  const c = cache.counters();
  assert.ok(c.sessions <= cache.capacity && c.sessions > cache.capacity / 2, JSON.stringify(c));
});

test('a slot with a bad checksum, or marked as being written, is not returned', () => {
  const buffer = new ArrayBuffer(TlsCache.byteLength(128 * 1024));
  const cache = TlsCache.create(buffer, 128 * 1024);
  cache.store(id(1), sessionData(1), 1000);
  const bytes = new Uint8Array(buffer);
  // Find the slot by the session's data and flip one byte of it.
  const data = sessionData(1);
  const at = Buffer.from(bytes).indexOf(data);
  assert.ok(at > 0);
  bytes[at + 50] ^= 0xff;
  assert.equal(cache.lookup(id(1), 0), null);
  bytes[at + 50] ^= 0xff;
  assert.deepEqual(cache.lookup(id(1), 0), data);
  // The slot's seq word: the data starts 56 bytes into the slot.
  const words = new Int32Array(buffer);
  Atomics.add(words, (at - 56) >> 2, 1);
  assert.equal(cache.lookup(id(1), 0), null, 'odd: being written');
});

test('ticket keys: the previous one stays readable, a third rotation reuses no live slot', () => {
  const cache = TlsCache.create(new ArrayBuffer(TlsCache.byteLength(0)), 0);
  assert.equal(cache.ticketKeys(), null);
  const keys = [1, 2, 3, 4].map(() => crypto.randomBytes(48));
  for (const [i, k] of keys.entries()) {
    assert.equal(cache.rotateKey(k, 100 + i), i + 1);
    const read = cache.ticketKeys();
    assert.deepEqual(read?.current, k);
    assert.deepEqual(read?.previous, i === 0 ? null : keys[i - 1]);
  }
  assert.equal(cache.store(id(1), sessionData(1), 1000), false, 'no session cache: none stored');
});

test('writers SIGKILLed mid-store, two at once on the same slots, never leave a torn session', async () => {
  const cache = createTlsCacheSegment(name, 128 * 1024);
  const writer = path.join(__dirname, 'helpers', 'tls-cache-writer.js');
  const seen = { whole: 0, torn: 0 };
  for (let round = 0; round < 6; round++) {
    const procs = [0, 1].map((k) => spawn(process.execPath, [writer, name, String(k)], { stdio: 'ignore' }));
    await sleep(150 + round * 40);
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => new Promise((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve(null) : p.once('exit', resolve)))));
    for (let n = 0; n < 20_000; n++) {
      const found = cache.lookup(id(n), 0);
      if (found === null) continue;
      if (found.equals(sessionData(n))) seen.whole++;
      else seen.torn++;
    }
  }
  assert.equal(seen.torn, 0);
  assert.ok(seen.whole > 10, `only ${seen.whole} sessions found: the writers did not run`);
});
