// The sqlite store on a running daemon with two children: sessions shared by the children,
// renewal in one transaction, LimitSessions, the file in WAL mode, and sessions that survive a
// full stop and start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from './helpers/daemon';
import { proxyDaemon } from './helpers/proxy';
import { sessionBackend, visit } from './helpers/session';

test('the sqlite store', async (t) => {
  const b = await sessionBackend(t);
  const dir = tempDir('mpmproxy-sqlite-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db', 'sessions.sqlite');
  const config = [
    'StartServers 2',
    'SessionStore sqlite',
    `SessionSQLiteFile ${file}`,
    'LimitSessions 6',
    'SessionKeepOldCookieTimeout 1s',
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader principal\n SessionRequestHeader n\n</Location>`,
    '<Location /app/private>\n SessionRequire 401\n</Location>',
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ];
  const first = await proxyDaemon(t, config);
  await first.waitAccepting(2);

  const made = await visit(first.port, '/app/set?n=7');
  const id = made.cookie as string;
  for (let i = 0; i < 10; i++) assert.equal((await visit(first.port, '/app/echo', id)).backend?.headers['x-session-n'], '7');
  const login = await visit(first.port, '/app/login?user=ivy', id);
  const renewed = login.cookie as string;
  assert.ok(renewed && renewed !== id);
  const viaOld = await visit(first.port, '/app/private/x', id);
  assert.deepEqual([viaOld.status, viaOld.cookie], [200, renewed]);

  const db = new Database(file, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const pointer = JSON.parse((db.prepare('SELECT data FROM sessions WHERE id = ?').get(id) as { data: string }).data) as { r: string };
  assert.equal(pointer.r, renewed, 'the old id points at the new one');
  db.close();

  for (let i = 0; i < 4; i++) assert.equal((await visit(first.port, '/app/set?n=1')).status, 200);
  assert.equal((await visit(first.port, '/app/set?n=1')).status, 503, 'LimitSessions 6 (the pointer counts until it expires)');

  await first.stop();
  const second = await proxyDaemon(t, config);
  const back = await visit(second.port, '/app/private/x', renewed);
  assert.deepEqual([back.status, back.backend?.headers['x-session-principal'], back.backend?.headers['x-session-n']], [200, 'ivy', '7'], 'the session outlived the stop');
  assert.equal((await visit(second.port, '/app/logout', renewed)).status, 200);
  assert.equal((await visit(second.port, '/app/private/x', renewed)).status, 401);
});

test('an SQLite file that cannot be opened fails the session requests with 503, not the server', async (t) => {
  const b = await sessionBackend(t);
  const dir = tempDir('mpmproxy-sqlite-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sessions.sqlite');
  const d = await proxyDaemon(t, ['SessionStore sqlite', `SessionSQLiteFile ${file}`, `<Location /app>\n ProxyPass ${b.url}\n Session On\n</Location>`, `<Location /plain>\n ProxyPass ${b.url}\n</Location>`]);
  const id = (await visit(d.port, '/app/set?n=1')).cookie;
  // Another process holds the write lock past busy_timeout (SessionDBTimeout, 5 s by default: shortened by holding it long).
  const holder = new Database(file);
  holder.exec('BEGIN EXCLUSIVE');
  t.after(() => holder.close());
  const started = Date.now();
  const blocked = await visit(d.port, '/app/set?n=2', id);
  assert.equal(blocked.status, 503);
  assert.ok(Date.now() - started < 8000, 'bounded by the busy timeout');
  assert.equal((await visit(d.port, '/plain/echo')).status, 200, 'paths without sessions go on');
  holder.exec('COMMIT');
  assert.equal((await visit(d.port, '/app/set?n=3', id)).status, 200, 'and recovers by itself');
  assert.ok(d.log().some((l) => l.module === 'session' && /cannot answer/.test(l.msg)));
});
