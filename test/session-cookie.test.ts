// Sessions identified by cookie on a running daemon with two children sharing the shm store:
// backends drive them with X-Session-* response headers, attributes reach backends as request
// headers, SessionRequire, CSRF, invalidation and the idle timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sleep, waitFor } from './helpers/daemon';
import { proxyDaemon } from './helpers/proxy';
import { sessionBackend, visit } from './helpers/session';

test('sessions by cookie, shared by the children', async (t) => {
  const b = await sessionBackend(t);
  const d = await proxyDaemon(t, [
    'StartServers 2',
    'MinSpareThreads 1',
    'SessionMaxAge 3s',
    'SessionExpiryUpdateInterval 1s',
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader principal\n SessionRequestHeader role X-Role\n</Location>`,
    '<Location /app/private>\n SessionRequire 401\n</Location>',
    '<Location /app/members>\n SessionRequire /app/welcome\n</Location>',
    '<Location /app/form>\n SessionCSRFProtect On\n</Location>',
    '<Location /app/api>\n SessionCSRFProtect On\n SessionCSRFAllowedOrigin https://ui.example\n</Location>',
    `<Location /plain>\n ProxyPass ${b.url}\n</Location>`,
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ]);
  await d.waitAccepting(2);

  await t.test('no session until the backend stores something; then a cookie with the default attributes', async () => {
    const none = await visit(d.port, '/app/echo');
    assert.equal(none.status, 200);
    assert.deepEqual(none.setCookie, []);
    const made = await visit(d.port, '/app/set?role=editor&colour=blue');
    assert.equal(made.status, 200);
    assert.match(made.cookie ?? '', /^[A-Za-z0-9_-]{24}$/);
    assert.match(made.setCookie[0], /; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.equal(made.headers['x-session-set-role'], undefined, 'X-Session-* never reach the client');
  });

  await t.test('every child finds the session; attributes go to the backend, forged headers do not', async () => {
    const id = (await visit(d.port, '/app/set?role=editor')).cookie;
    const pids = new Set<string>();
    // Rounds of concurrent connections until both children have served some: a child ahead of its
    // sibling by more than one stops accepting, but on a busy machine one round may be over before
    // the other child gets a turn.
    for (let round = 0; round < 10 && pids.size < 2; round++) {
      const visits = await Promise.all(
        Array.from({ length: 30 }, () => visit(d.port, '/app/echo', id, { headers: { 'x-role': 'forged', 'x-session-principal': 'forged' } })),
      );
      for (const r of visits) {
        assert.equal(r.status, 200);
        assert.equal(r.backend?.headers['x-role'], 'editor');
        assert.equal(r.backend?.headers['x-session-principal'], undefined, 'no principal yet, and the client cannot name one');
      }
      for (const p of (await d.status()).processes) if (p.requests > 0) pids.add(String(p.pid));
    }
    assert.ok(pids.size >= 2, `both children served requests (${[...pids].join(',')})`);
    const other = await visit(d.port, '/plain/echo', id, { headers: { 'x-role': 'kept' } });
    assert.equal(other.backend?.headers['x-role'], 'kept', 'paths without Session leave headers alone');
  });

  await t.test('SessionRequire: 401, or a redirect to the login page, until the session is authenticated', async () => {
    assert.equal((await visit(d.port, '/app/private/x')).status, 401);
    const redirected = await visit(d.port, '/app/members/x');
    assert.deepEqual([redirected.status, redirected.headers.location], [302, '/app/welcome']);
    const anonymous = (await visit(d.port, '/app/set?a=1')).cookie;
    assert.equal((await visit(d.port, '/app/private/x', anonymous)).status, 401);
    const login = await visit(d.port, '/app/login?user=alice', anonymous);
    const id = login.cookie;
    assert.ok(id && id !== anonymous);
    const inside = await visit(d.port, '/app/private/x', id);
    assert.equal(inside.status, 200);
    assert.equal(inside.backend?.headers['x-session-principal'], 'alice');
  });

  await t.test('CSRF: state-changing requests need an allowed Origin or Referer', async () => {
    const host = `127.0.0.1:${d.port}`;
    assert.equal((await visit(d.port, '/app/form/x', undefined, { method: 'GET' })).status, 200, 'safe methods pass');
    assert.equal((await visit(d.port, '/app/form/x', undefined, { method: 'POST' })).status, 403, 'no Origin, no Referer');
    assert.equal((await visit(d.port, '/app/form/x', undefined, { method: 'POST', headers: { origin: 'http://evil.example' } })).status, 403);
    assert.equal((await visit(d.port, '/app/form/x', undefined, { method: 'POST', headers: { origin: `http://${host}` } })).status, 200);
    assert.equal((await visit(d.port, '/app/form/x', undefined, { method: 'DELETE', headers: { referer: `http://${host}/page?x` } })).status, 200);
    assert.equal((await visit(d.port, '/app/api/x', undefined, { method: 'PUT', headers: { origin: `http://${host}` } })).status, 403, 'only the listed origins');
    assert.equal((await visit(d.port, '/app/api/x', undefined, { method: 'PUT', headers: { origin: 'https://ui.example' } })).status, 200);
    assert.equal((await visit(d.port, '/app/x', undefined, { method: 'POST' })).status, 200, 'off where not enabled');
    assert.ok(d.log().some((l) => l.module === 'session' && /CSRF check/.test(l.msg)));
  });

  await t.test('invalidation ends the session and clears the cookie; a dead cookie is cleared', async () => {
    const id = (await visit(d.port, '/app/login?user=bob')).cookie;
    assert.equal((await visit(d.port, '/app/private/x', id)).status, 200);
    const out = await visit(d.port, '/app/logout', id);
    assert.equal(out.cookie, '');
    assert.match(out.setCookie.at(-1) ?? '', /Max-Age=0/);
    assert.equal((await visit(d.port, '/app/private/x', id)).status, 401);
    const junk = await visit(d.port, '/app/echo', 'not-an-id');
    assert.deepEqual([junk.status, junk.cookie], [200, '']);
  });

  await t.test('the idle timeout ends a session that is not used; use keeps it alive', async () => {
    const idle = (await visit(d.port, '/app/login?user=carol')).cookie;
    const busy = (await visit(d.port, '/app/login?user=dave')).cookie;
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      assert.equal((await visit(d.port, '/app/private/x', busy)).status, 200, `busy session alive after ${(i + 1) * 500} ms`);
    }
    assert.equal((await visit(d.port, '/app/private/x', idle)).status, 401);
    await waitFor('the reaper to log statistics', () => d.log().find((l) => l.module === 'session' && /session store statistics for shm/.test(l.msg) && Number(l.expired) > 0));
  });
});
