// The mariadb store against a real, throwaway MariaDB server: the schema made by
// `session-store init` and checked at start-up, two mpmproxy instances sharing sessions,
// lock-wait retries, a database outage under load, LimitSessions, prepared statements bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, request, sleep, tempDir, waitFor } from './helpers/daemon';
import { runCli } from './helpers/cli';
import { startMariadb } from './helpers/mariadb';
import { proxyDaemon } from './helpers/proxy';
import { sessionBackend, visit } from './helpers/session';
import { STATEMENTS } from '../src/session/mariadb-store';

test('the mariadb store', async (t) => {
  const db = await startMariadb(t);
  await db.query('CREATE DATABASE sessions');
  await db.query('CREATE DATABASE limited');
  const b = await sessionBackend(t);
  const dir = tempDir('mpmproxy-mariadb-conf-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines = (database: string, extra: string[] = []) => [
    'StartServers 2',
    'SessionStore mariadb',
    `SessionDBConnect ${db.url(database)}`,
    'SessionDBTimeout 1s',
    'SessionDBPoolSize 2',
    'SessionKeepOldCookieTimeout 3s',
    ...extra,
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader principal\n SessionRequestHeader n\n</Location>`,
    '<Location /app/private>\n SessionRequire 401\n</Location>',
    `<Location /plain>\n ProxyPass ${b.url}\n</Location>`,
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ];
  const port = await freePort();
  const confFile = (name: string, database: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, [`Listen 127.0.0.1:${port}`, `PidFile ${path.join(dir, `${name}.pid`)}`, ...lines(database)].join('\n'));
    return file;
  };

  await t.test('session-store init creates the schema; a second run finds it; start-up names what differs', async () => {
    const file = confFile('init.conf', 'sessions');
    assert.deepEqual(await runCli(['-f', file, 'session-store', 'init']), { code: 0, stdout: 'table mpmproxy_session created\n', stderr: '' });
    assert.equal((await runCli(['-f', file, 'session-store', 'init'])).stdout, 'table mpmproxy_session is present and matches this build\n');
    assert.equal((await runCli(['-f', confFile('limited.conf', 'limited'), 'session-store', 'init'])).code, 0);
    await db.query('CREATE DATABASE wrong');
    await db.query('CREATE TABLE wrong.mpmproxy_session (id VARCHAR(64) NOT NULL PRIMARY KEY, expires INT NOT NULL, data TEXT NOT NULL, owner INT) ENGINE=InnoDB');
    const bad = await runCli(['-f', confFile('wrong.conf', 'wrong'), 'session-store', 'init']);
    assert.equal(bad.code, 1);
    for (const text of ['column mpmproxy_session.id is varchar(64), expected varchar(32)', 'column mpmproxy_session.expires is int(11), expected bigint(20)', 'column mpmproxy_session.data is text, expected mediumtext', 'column mpmproxy_session.owner is not part of the schema', 'index KEY mpmproxy_session_expires (expires) is missing']) {
      assert.ok(bad.stderr.includes(text), `${text} in ${bad.stderr}`);
    }
    const wrong = await runCli(['-f', confFile('wrong.conf', 'wrong'), '-D', 'FOREGROUND'], { timeoutMs: 15000 });
    assert.equal(wrong.code, 1, 'the server does not start on a schema that differs');
    assert.match(wrong.stderr, /MPM_ERR_SESSION_SCHEMA|schema differs/);
  });

  const a = await proxyDaemon(t, lines('sessions'));
  const other = await proxyDaemon(t, lines('sessions'));
  await a.waitAccepting(2);
  await other.waitAccepting(2);

  await t.test('two instances on one database: made on one, used, changed, renewed and invalidated on the other', async () => {
    const id = (await visit(a.port, '/app/set?n=1')).cookie as string;
    assert.equal((await visit(other.port, '/app/echo', id)).backend?.headers['x-session-n'], '1');
    assert.equal((await visit(other.port, '/app/set?n=2', id)).status, 200);
    assert.equal((await visit(a.port, '/app/echo', id)).backend?.headers['x-session-n'], '2');
    const renewed = (await visit(a.port, '/app/login?user=jo', id)).cookie as string;
    assert.ok(renewed && renewed !== id);
    const viaOld = await visit(other.port, '/app/private/x', id);
    assert.deepEqual([viaOld.status, viaOld.cookie, viaOld.backend?.headers['x-session-principal']], [200, renewed, 'jo']);
    assert.equal((await visit(other.port, '/app/logout', renewed)).status, 200);
    assert.equal((await visit(a.port, '/app/private/x', renewed)).status, 401);
  });

  await t.test('a lock-wait timeout is retried and the retry succeeds', async () => {
    const id = (await visit(a.port, '/app/set?n=locked')).cookie as string;
    const holder = await db.connect('sessions');
    await holder.beginTransaction();
    await holder.query('SELECT * FROM mpmproxy_session WHERE id = ? FOR UPDATE', [id]);
    const started = Date.now();
    const pending = visit(a.port, '/app/set?n=after', id);
    await sleep(1500);
    await holder.commit();
    await holder.end();
    const r = await pending;
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started >= 1000, 'it waited for the lock, then retried');
    assert.equal((await visit(other.port, '/app/echo', id)).backend?.headers['x-session-n'], 'after');
  });

  await t.test('retries spent: a clean 503 within the bounded time, not a hang', async () => {
    const c = await proxyDaemon(t, lines('sessions', ['SessionDBRetriesOnLockWaitTimeout 1']));
    const id = (await visit(c.port, '/app/set?n=x')).cookie as string;
    const holder = await db.connect('sessions');
    await holder.beginTransaction();
    await holder.query('SELECT * FROM mpmproxy_session WHERE id = ? FOR UPDATE', [id]);
    const started = Date.now();
    const r = await visit(c.port, '/app/set?n=y', id);
    const took = Date.now() - started;
    await holder.rollback();
    await holder.end();
    assert.equal(r.status, 503);
    assert.ok(took >= 1800 && took < 6000, `two waits of 1 s (took ${took} ms)`);
    await waitFor('the log line', () => c.log().find((l) => l.module === 'session' && /1 retries spent \(SessionDBRetriesOnLockWaitTimeout\)/.test(l.msg)));
    assert.equal((await visit(c.port, '/app/set?n=z', id)).status, 200, 'fine once the lock is gone');
  });

  await t.test('LimitSessions holds for the mariadb store', async () => {
    const l = await proxyDaemon(t, lines('limited', ['LimitSessions 3']));
    for (let i = 0; i < 3; i++) assert.equal((await visit(l.port, '/app/set?n=1')).status, 200);
    assert.equal((await visit(l.port, '/app/set?n=1')).status, 503);
  });

  await t.test('database stopped under load: only session routes fail, they recover after the restart, nothing committed is lost', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await visit(a.port, `/app/set?n=${i}`)).cookie as string);
    let stop = false;
    const plain: number[] = [];
    const sessions: Array<{ at: number; status: number }> = [];
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const [p, s] = await Promise.all([request(a.port, '/plain/echo'), visit(a.port, '/app/echo', ids[i % ids.length])]);
        plain.push(p.status);
        sessions.push({ at: Date.now(), status: s.status });
        await sleep(20);
      }
    })();
    await sleep(300);
    await db.stop();
    const stopped = Date.now();
    await waitFor('session requests to fail', () => sessions.some((s) => s.at > stopped && s.status === 503), 10_000);
    await sleep(1000);
    await db.start();
    const restarted = Date.now();
    await waitFor('session requests to succeed again', () => sessions.some((s) => s.at > restarted && s.status === 200), 15_000);
    const recovered = sessions.find((s) => s.at > restarted && s.status === 200)?.at as number;
    stop = true;
    await load;
    assert.ok(plain.every((s) => s === 200), 'paths without sessions never failed');
    assert.ok(recovered - restarted < 5000, `recovered ${recovered - restarted} ms after the restart`);
    for (const [i, id] of ids.entries()) assert.equal((await visit(a.port, '/app/echo', id)).backend?.headers['x-session-n'], String(i));
    assert.ok(a.log().some((l) => l.module === 'session' && l.level === 'error' && /cannot answer/.test(l.msg)));
    assert.ok(a.log().some((l) => l.module === 'session' && /answers again/.test(l.msg)));
    const outageLines = a.log().filter((l) => l.module === 'session' && /cannot answer/.test(l.msg) && Date.parse(l.time) >= stopped - 100);
    assert.ok(outageLines.length <= 2 * 2, `logged once per interval per event loop (${outageLines.length})`);
  });

  await t.test('prepared statements stay within the documented bound', async () => {
    const rows = (await db.query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")) as Array<{ Value: string }>;
    // Instances a, other, c, l: 2 children × 2 connections each, plus each master's reaper connection.
    const bound = 4 * (2 * 2 + 1) * STATEMENTS;
    assert.ok(Number(rows[0].Value) <= bound, `${rows[0].Value} <= ${bound}`);
    assert.ok(Number(rows[0].Value) > 0);
  });
});
