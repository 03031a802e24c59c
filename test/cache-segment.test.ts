// The cache segment itself: its documented layout, a writer that died holding the lock, and
// processes writing while others read and while writers are killed.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadNative } from '../src/native';
import { BLOCK_SIZE, CacheTable, cacheHeaderLayout, indexEntryLayout, itemHeaderLayout } from '../src/shm/cache';
import { attachCacheSegment, createCacheSegment, removeCacheSegment } from '../src/shm/cache-segment';
import { sleep } from './helpers/daemon';

test('the cache segment layout is the one documented at the top of src/shm/cache.ts', () => {
  const source = readFileSync(path.join(__dirname, '..', '..', 'src', 'shm', 'cache.ts'), 'utf8');
  const tables: Record<string, { size: number; offsets: Record<string, number> }> = {};
  let current: { size: number; offsets: Record<string, number> } | undefined;
  for (const line of source.split('\n')) {
    const heading = /^\/\/\s+(Header|Index entry|Item header): (\d+) bytes/.exec(line);
    if (heading) tables[heading[1]] = current = { size: Number(heading[2]), offsets: {} };
    const row = /^\/\/\s+\|\s*(\d+)\s*\|\s*\S+\s*\|\s*(\w+)\s*\|/.exec(line);
    if (row && current) current.offsets[row[2]] = Number(row[1]);
  }
  const layout = (l: { size: number; offsets: Record<string, number> }) => ({ size: l.size, offsets: { ...l.offsets } });
  assert.deepEqual(tables, { Header: layout(cacheHeaderLayout), 'Index entry': layout(indexEntryLayout), 'Item header': layout(itemHeaderLayout) });
  // 64K of data: 256 blocks, 512 index entries, 8 bitmap words.
  assert.equal(CacheTable.byteLength(65536), 128 + 512 * 8 + 32 + 65536);
});

test('put, get, delete; modes; items over LimitCacheItem; keys that come and go keep misses short', () => {
  const c = CacheTable.create(new ArrayBuffer(CacheTable.byteLength(65536)), 65536, 1024);
  assert.equal(c.put('a', 1, Buffer.from('one'), 0, 'create'), 'ok');
  assert.equal(c.put('a', 1, Buffer.from('uno'), 0, 'create'), 'exists');
  assert.equal(c.put('b', 1, Buffer.from('two'), 0, 'replace'), 'missing');
  assert.equal(c.put('a', 1, Buffer.alloc(1001), 0, 'upsert'), 'too-large');
  assert.equal(c.put('a', 1, Buffer.from('uno'), 7, 'replace'), 'ok');
  assert.deepEqual({ ...c.get('a'), value: c.get('a')?.value.toString() }, { value: 'uno', kind: 1, expiresAt: 7 });
  assert.ok(c.delete('a'));
  assert.equal(c.get('a'), null);
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 200; i++) assert.equal(c.put(`k${round}-${i}`, 1, Buffer.from('v'), 0, 'create'), 'ok');
    for (let i = 0; i < 200; i++) assert.ok(c.delete(`k${round}-${i}`));
  }
  assert.deepEqual(c.stats().items, [0, 0, 0, 0]);
  assert.equal(c.stats().usedBlocks, 0);
  // The whole data area, then nothing more.
  for (let i = 0; i < 256; i++) assert.equal(c.put(`f${i}`, 2, Buffer.from('v'), 0, 'create'), 'ok', `item ${i}`);
  assert.equal(c.put('one-more', 2, Buffer.from('v'), 0, 'create'), 'no-space');
  assert.equal(c.stats().bytes[2], 256 * BLOCK_SIZE);
});

const name = `/mpmproxy-test.${process.pid}.cache`;
const worker = path.join(__dirname, 'helpers', 'cache-writer.js');

test('a writer that died holding the lock: the next writer takes it over and frees what it left', async (t) => {
  const c = createCacheSegment(name, 65536, 4096);
  t.after(() => removeCacheSegment(name));
  assert.equal(c.put('kept', 1, Buffer.from('old'), 0, 'create'), 'ok');
  const dead = fork(worker, [name, 'exit'], { stdio: 'ignore' });
  const pid = dead.pid as number;
  await new Promise((r) => dead.once('exit', r));
  // What a writer killed mid-put leaves: the lock taken, blocks marked in use, nothing published.
  const words = new Int32Array(loadNative().shmOpen(name, 0, false));
  const bitmapWord = (128 + c.capacity * 8) / 4;
  Atomics.store(words, bitmapWord, 0x7ffffffe);
  Atomics.store(words, 5, pid);
  assert.equal(c.put('kept', 1, Buffer.from('new'), 0, 'replace'), 'ok');
  assert.equal(c.stats().recoveries, 1);
  assert.equal(c.stats().usedBlocks, 1, 'the blocks nobody points at are free again');
  assert.equal(c.get('kept')?.value.toString(), 'new');
});

test('several processes writing, readers never see a torn value, writers SIGKILLed at random', async (t) => {
  const c = createCacheSegment(name, 1 << 20, 8192);
  t.after(() => removeCacheSegment(name));
  const keys = 16;
  for (let k = 0; k < keys; k++) c.put(`key${k}`, 1, Buffer.from('0:'), 0, 'create');
  const writers = new Set<ReturnType<typeof fork>>();
  const start = () => {
    const w = fork(worker, [name, 'write', String(keys)], { stdio: 'ignore' });
    writers.add(w);
    w.once('exit', () => writers.delete(w));
  };
  for (let i = 0; i < 3; i++) start();
  const reader = attachCacheSegment(name);
  const until = Date.now() + 3000;
  let reads = 0;
  let kills = 0;
  while (Date.now() < until) {
    for (let k = 0; k < keys; k++) {
      const v = reader.get(`key${k}`)?.value.toString();
      assert.ok(v !== undefined, `key${k} is always there`);
      // Each value is "n:" then n repeated: self-checking.
      const [n, rest] = v.split(':');
      assert.equal(rest, n === '0' ? '' : n.repeat(Number(n) % 50), `key${k} read whole`);
      reads++;
    }
    if (reads % 2000 === 0) {
      const victim = [...writers][0];
      if (victim) {
        victim.kill('SIGKILL');
        kills++;
        start();
      }
      await sleep(1);
    }
  }
  for (const w of writers) w.kill('SIGKILL');
  assert.ok(kills >= 3, `killed ${kills} writers`);
  assert.equal(c.put('after', 1, Buffer.from('x'), 0, 'create'), 'ok', 'the lock is never left stuck');
  const s = c.stats();
  assert.equal(s.items[1], keys + 1);
  assert.equal(s.usedBlocks, s.bytes[1] / BLOCK_SIZE, 'the counts match the blocks in use');
});
