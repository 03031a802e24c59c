// The shm store on a running daemon with two children: SessionMemorySize thresholds at 70, 90
// and 95% (seed 001), LimitCacheItem, LimitSessions, and a child killed under a load of
// session writes; and a store's decoded records, which must follow other processes' writes.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { newSessionId, type SessionRecord } from '../src/session/record';
import { ShmSessionStore } from '../src/session/shm-store';
import { createCacheSegment, removeCacheSegment } from '../src/shm/cache-segment';
import { childPids, waitFor } from './helpers/daemon';
import { proxyDaemon } from './helpers/proxy';
import { sessionBackend, visit } from './helpers/session';

const levelLine = (d: { log(): Array<{ module?: string; level: string; msg: string }> }, level: string, text: RegExp) =>
  d.log().find((l) => l.module === 'session' && l.level === level && text.test(l.msg));

test('LimitCache holds the shm store: thresholds 70/90/95%, LimitCacheItem', async (t) => {
  const b = await sessionBackend(t);
  // 64K of 256-byte blocks: 256 blocks; a small session takes one.
  const d = await proxyDaemon(t, [
    'StartServers 2',
    'LimitCache 64K',
    'LimitCacheItem 1K',
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader n\n</Location>`,
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ]);
  await d.waitAccepting(2);
  const ids: string[] = [];

  await t.test('a session larger than LimitCacheItem is refused with 503', async () => {
    const r = await visit(d.port, `/app/set?n=big&pad=${'x'.repeat(1500)}`);
    assert.deepEqual([r.status, r.cookie], [503, undefined]);
    assert.ok(d.log().some((l) => l.module === 'session' && /larger than LimitCacheItem/.test(l.msg)));
  });

  await t.test('70%: a notice; 90%: crit and no new session, changes still allowed', async () => {
    for (let i = 0; i < 300; i++) {
      const r = await visit(d.port, `/app/set?n=${i}`);
      if (r.status !== 200) {
        assert.equal(r.status, 503);
        break;
      }
      ids.push(r.cookie as string);
    }
    // 90% of 256 blocks is 230.4: the 231st session crosses it, the next is refused.
    assert.equal(ids.length, 231);
    assert.ok(levelLine(d, 'notice', /70% reached/));
    assert.ok(levelLine(d, 'crit', /90% reached\): no new sessions/));
    const changed = await visit(d.port, '/app/set?n=changed', ids[0]);
    assert.equal(changed.status, 200, 'an existing session still changes');
    assert.equal((await visit(d.port, '/app/echo', ids[0])).backend?.headers['x-session-n'], 'changed');
    const refused = d.log().filter((l) => l.module === 'session' && /takes no new session/.test(l.msg));
    assert.ok(refused.length >= 1);
  });

  await t.test('95%: emerg and no change at all; sessions are still read; ending sessions brings it back', async () => {
    // Grow sessions to a second block each until changes are refused.
    let grown = 0;
    for (const id of ids) {
      const r = await visit(d.port, `/app/set?pad=${'y'.repeat(300)}`, id);
      if (r.status === 503) break;
      grown++;
    }
    assert.ok(grown >= 12 && grown <= 14, `grew ${grown} sessions before 95%`);
    assert.ok(levelLine(d, 'emerg', /95% reached\): no session is created or changed/));
    assert.equal((await visit(d.port, '/app/set?n=no', ids[200])).status, 503);
    const read = await visit(d.port, '/app/echo', ids[200]);
    assert.deepEqual([read.status, read.backend?.headers['x-session-n']], [200, '200']);
    for (const id of ids.slice(0, 60)) assert.equal((await visit(d.port, '/app/logout', id)).status, 200);
    await waitFor('the level to come down', () => levelLine(d, 'notice', /back under/));
    assert.equal((await visit(d.port, '/app/set?n=new')).status, 200, 'new sessions again');
  });

  await t.test('the segment outlives a graceful restart and a child crash', async () => {
    const id = ids[100];
    d.signal('SIGUSR1');
    await waitFor('a new generation', async () => (await d.status()).processes.some((p) => p.generation === 1));
    assert.equal((await visit(d.port, '/app/echo', id)).backend?.headers['x-session-n'], '100');
    process.kill(childPids(d.pid)[0], 'SIGKILL');
    await d.waitAccepting(2);
    assert.equal((await visit(d.port, '/app/echo', id)).backend?.headers['x-session-n'], '100');
  });
});

test('LimitSessions bounds the sessions of the whole server', async (t) => {
  const b = await sessionBackend(t);
  const d = await proxyDaemon(t, ['StartServers 2', 'LimitSessions 5', `<Location /app>\n ProxyPass ${b.url}\n Session On\n</Location>`, '<Location /server-status>\n SetHandler server-status\n</Location>']);
  await d.waitAccepting(2);
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await visit(d.port, '/app/set?a=1')).cookie);
  assert.ok(made.every((id) => id !== undefined));
  assert.equal((await visit(d.port, '/app/set?a=1')).status, 503);
  assert.equal((await visit(d.port, '/app/set?a=2', made[0])).status, 200, 'changes to existing sessions go on');
  assert.equal((await visit(d.port, '/app/logout', made[1])).status, 200);
  assert.equal((await visit(d.port, '/app/set?a=1')).status, 200, 'a freed place is taken');
});

test('a child killed with SIGKILL under a load of session writes leaves every session whole', async (t) => {
  const b = await sessionBackend(t);
  const d = await proxyDaemon(t, ['StartServers 2', `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader v\n SessionRequestHeader w\n</Location>`, '<Location /server-status>\n SetHandler server-status\n</Location>']);
  await d.waitAccepting(2);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push((await visit(d.port, '/app/set?v=0&w=0')).cookie as string);
  let stop = false;
  let writes = 0;
  // Each write sets two attributes to the same value: a torn session would show them differ.
  const writer = async (k: number) => {
    for (let n = 1; !stop; n++) {
      const value = `${n}-${'z'.repeat(n % 400)}`;
      await visit(d.port, `/app/set?v=${value}&w=${value}`, ids[(k * 7 + n) % ids.length]).catch(() => undefined);
      writes++;
    }
  };
  const writers = Array.from({ length: 8 }, (_, k) => writer(k));
  await waitFor('writes under way', () => writes > 100);
  for (const pid of childPids(d.pid)) {
    process.kill(pid, 'SIGKILL');
    await waitFor('writes again', async () => (await visit(d.port, '/app/echo', ids[0])).status === 200);
  }
  stop = true;
  await Promise.all(writers);
  await d.waitAccepting(2);
  for (const id of ids) {
    const r = await visit(d.port, '/app/echo', id);
    assert.equal(r.status, 200);
    assert.equal(r.backend?.headers['x-session-v'], r.backend?.headers['x-session-w'], 'old or new, never a mix');
    assert.ok(r.backend?.headers['x-session-v'] !== undefined);
  }
});

test("a store's decoded records follow other processes' writes, removals and re-creations", async (t) => {
  const name = `/mpmproxy-test.${process.pid}.sessions`;
  const cache = createCacheSegment(name, 1 << 20, 8192);
  t.after(() => removeCacheSegment(name));
  const store = new ShmSessionStore(cache, 1 << 20, 0);
  const elsewhere = async (op: 'update' | 'remove', id: string, r?: SessionRecord, expected = 0) => {
    const p = fork(path.join(__dirname, 'helpers', 'session-writer.js'), [name, op, id, JSON.stringify(r ?? null)], { stdio: 'inherit' });
    const [code] = (await once(p, 'exit')) as [number];
    assert.equal(code, expected, `the other process's ${op}`);
  };
  const now = Date.now();
  const id = newSessionId();
  const first: SessionRecord = { created: now, touched: now, authenticated: false, principal: null, attributes: { step: '1' } };
  assert.equal(store.create(id, first, now + 60_000), 'ok');
  const read = store.get(id);
  assert.deepEqual(read, first);
  assert.equal(store.get(id), read, 'an unchanged session is not decoded again');

  // Same length, same expiry: only the bytes tell the change.
  const second = { ...first, attributes: { step: '2' } };
  await elsewhere('update', id, second);
  assert.deepEqual(store.get(id), second);
  const third = { ...second, authenticated: true, principal: 'someone', attributes: { step: '3', more: 'x'.repeat(300) } };
  await elsewhere('update', id, third);
  assert.deepEqual(store.get(id), third);
  await elsewhere('remove', id);
  assert.equal(store.get(id), null);
  await elsewhere('update', id, first, 3);
  assert.equal(store.get(id), null, 'an update does not bring a removed session back');
  assert.equal(new ShmSessionStore(cache, 1 << 20, 0).create(id, second, now + 60_000), 'ok');
  assert.deepEqual(store.get(id), second, 'a session made again under the same id is read anew');

  // What a store keeps of its own writes is what any reader decodes from the segment.
  const pointer: SessionRecord = { ...first, attributes: {}, renewedTo: newSessionId(), renewedUntil: now + 5000 };
  for (const r of [first, third, { ...third, attributes: {} }, pointer]) {
    assert.equal(store.update(id, r, now + 60_000), 'ok');
    assert.deepEqual(store.get(id), new ShmSessionStore(cache, 1 << 20, 0).get(id));
  }
  const renewed = newSessionId();
  assert.equal(store.renew(id, renewed, third, now + 60_000, now + 5000), 'ok');
  assert.deepEqual(store.get(id), new ShmSessionStore(cache, 1 << 20, 0).get(id));
  assert.equal(store.get(id)?.renewedTo, renewed);
  assert.deepEqual(store.get(renewed), third);
});
