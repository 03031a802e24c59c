// The owner table of state-aware sessions (src/shm/owners.ts): its documented byte layout, and
// the operations the children and the master use on it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SharedMemoryError } from '../src/errors';
import { ALREADY_OWNED, LIVE, ORPHAN, OWNERS_VERSION, OwnerTable, ownerCapacityFor, ownerEntryLayout, ownersHeaderLayout, TABLE_FULL } from '../src/shm/owners';
import { ownerKey, sessionLabel } from '../src/stateaware/session-key';

function documentedLayouts(): Map<string, { size: number; offsets: Record<string, number> }> {
  const source = readFileSync(path.join(__dirname, '..', '..', 'src', 'shm', 'owners.ts'), 'utf8');
  const tables = new Map<string, { size: number; offsets: Record<string, number> }>();
  let current: { size: number; offsets: Record<string, number> } | undefined;
  for (const line of source.split('\n')) {
    if (!line.startsWith('//')) continue;
    const heading = /^\/\/\s+(Header|Entry): (\d+) bytes/.exec(line);
    if (heading) {
      current = { size: Number(heading[2]), offsets: {} };
      tables.set(heading[1], current);
      continue;
    }
    const row = /^\/\/\s+\|\s*(\d+)\s*\|\s*\S+\s*\|\s*(\w+)\s*\|/.exec(line);
    if (row && current) current.offsets[row[2]] = Number(row[1]);
  }
  return tables;
}

const table = (limit = 8) => OwnerTable.create(new ArrayBuffer(OwnerTable.byteLength(ownerCapacityFor(limit))), limit);

test('the layout is the one documented at the top of owners.ts', () => {
  const documented = documentedLayouts();
  assert.deepEqual({ size: ownersHeaderLayout.size, offsets: { ...ownersHeaderLayout.offsets } }, documented.get('Header'));
  assert.deepEqual({ size: ownerEntryLayout.size, offsets: { ...ownerEntryLayout.offsets } }, documented.get('Entry'));
  assert.equal(OwnerTable.byteLength(16), 64 + 16 * 32);
});

test('insert, find, remove; one owner per session; the limit holds', () => {
  const t = table(3);
  const a = ownerKey('session-a');
  assert.equal(t.find(a), null);
  const at = t.insert(a, 100, 1, 2);
  assert.ok(at >= 0);
  const found = t.find(a);
  assert.deepEqual({ ...found, tag: 0 }, { index: at, tag: 0, state: LIVE, pid: 100, slot: 1, thread: 2 });
  assert.equal(t.insert(a, 200, 3, 0), ALREADY_OWNED, 'the first owner keeps it');
  assert.ok(t.insert(ownerKey('b'), 200, 3, 0) >= 0);
  assert.ok(t.insert(ownerKey('c'), 200, 3, 0) >= 0);
  assert.equal(t.insert(ownerKey('d'), 200, 3, 0), TABLE_FULL);
  assert.equal(t.live, 3);
  assert.ok(t.remove(found!));
  assert.equal(t.remove(found!), false, 'a removal applies once');
  assert.equal(t.find(a), null);
  assert.ok(t.insert(ownerKey('d'), 200, 3, 0) >= 0, 'room again');
  // A removal prepared on an entry that was since reused does nothing.
  const d = t.find(ownerKey('d'))!;
  t.remove(d);
  t.insert(ownerKey('e'), 300, 4, 0);
  assert.equal(t.remove(d), false);
});

test('orphan marks exactly a dead pid\'s entries; they can be removed once', () => {
  const t = table(64);
  const keys = Array.from({ length: 40 }, (_, i) => ownerKey(`s${i}`));
  keys.forEach((k, i) => assert.ok(t.insert(k, i % 2 === 0 ? 10 : 11, i % 2, 0) >= 0));
  assert.equal(t.orphan(10), 20);
  assert.equal(t.orphan(10), 0);
  for (const [i, k] of keys.entries()) assert.equal(t.find(k)?.state, i % 2 === 0 ? ORPHAN : LIVE);
  assert.equal(t.entries().length, 40);
  for (const k of keys.filter((_, i) => i % 2 === 0)) assert.ok(t.remove(t.find(k)!));
  assert.equal(t.live, 20);
});

test('attach checks magic and version; labels hide the id', () => {
  const buffer = new ArrayBuffer(OwnerTable.byteLength(16));
  OwnerTable.create(buffer, 4);
  assert.equal(OwnerTable.attach(buffer).limit, 4);
  new Int32Array(buffer)[1] = OWNERS_VERSION + 1;
  assert.throws(() => OwnerTable.attach(buffer), (err: unknown) => err instanceof SharedMemoryError && /layout version/.test((err as Error).message));
  assert.throws(() => OwnerTable.attach(new ArrayBuffer(64)), SharedMemoryError);
  assert.match(sessionLabel(ownerKey('x')), /^[0-9a-f]{8}$/);
  assert.notEqual(sessionLabel(ownerKey('x')), sessionLabel(ownerKey('y')));
});
