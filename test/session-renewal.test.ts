// Renewal on authentication: a new id at login, the old one leading to the session only for
// SessionKeepOldCookieTimeout, then failing as SessionOnInvalidCookie says; fixation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, sleep } from './helpers/daemon';
import { proxyDaemon } from './helpers/proxy';
import { cookieOf, sessionBackend, visit } from './helpers/session';

test('renewal on login with SessionOnInvalidCookie 409', async (t) => {
  const b = await sessionBackend(t);
  const d = await proxyDaemon(t, [
    'StartServers 2',
    'SessionKeepOldCookieTimeout 2s',
    'SessionOnInvalidCookie 409',
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n SessionRequestHeader principal\n SessionRequestHeader cart\n</Location>`,
    '<Location /app/private>\n SessionRequire 401\n</Location>',
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ]);
  await d.waitAccepting(2);

  await t.test('20 requests with the old cookie during a login all keep the session; after the grace they get 409', async () => {
    const before = (await visit(d.port, '/app/set?cart=3')).cookie;
    assert.ok(before);
    const login = visit(d.port, '/app/login?user=erin&ms=300', before);
    const parallel = Array.from({ length: 20 }, (_, i) => sleep(i * 25).then(() => visit(d.port, '/app/echo?ms=100', before)));
    const [done, ...others] = await Promise.all([login, ...parallel]);
    const after = done.cookie;
    assert.ok(after && after !== before, 'login issued a new id');
    for (const r of others) {
      assert.equal(r.status, 200);
      assert.equal(r.backend?.headers['x-session-cart'], '3', 'each request reached the session');
      // Those that came after the renewal are told the new id.
      if (r.backend?.headers['x-session-principal'] === 'erin') assert.equal(r.cookie, after);
    }
    assert.ok(others.some((r) => r.cookie === after), 'some ran after the renewal');
    // Within the grace the old cookie still reaches the authenticated session, with the new cookie.
    const late = await visit(d.port, '/app/private/x', before);
    assert.deepEqual([late.status, late.cookie, late.backend?.headers['x-session-principal']], [200, after, 'erin']);
    await sleep(2200);
    const stale = await Promise.all(Array.from({ length: 20 }, () => visit(d.port, '/app/echo', before)));
    for (const r of stale) assert.deepEqual([r.status, r.cookie], [409, ''], 'after the grace, as SessionOnInvalidCookie says');
    assert.equal((await visit(d.port, '/app/private/x', after)).status, 200, 'the new id works');
  });

  await t.test('fixation: an id from before the login is never valid after it; an id the client made up is never adopted', async () => {
    const planted = (await visit(d.port, '/app/set?cart=1')).cookie as string;
    const victim = await visit(d.port, '/app/login?user=frank', planted);
    assert.notEqual(victim.cookie, planted);
    await sleep(2200);
    for (const path of ['/app/private/x', '/app/echo']) assert.equal((await visit(d.port, path, planted)).status, 409);
    const invented = 'AAAAAAAAAAAAAAAAAAAAAAAA';
    assert.equal((await visit(d.port, '/app/echo', invented)).status, 409, 'a well-formed id nobody issued is invalid');
    // Without a valid cookie the login makes a fresh id, never the invented one.
    const fresh = await visit(d.port, '/app/login?user=frank');
    assert.ok(fresh.cookie && fresh.cookie !== invented);
  });
});

test('no renewal when SessionRenewOnAuthentication is off; grace 0 ends the old id at once', async (t) => {
  const b = await sessionBackend(t);
  const off = await proxyDaemon(t, ['SessionRenewOnAuthentication Off', `<Location /app>\n ProxyPass ${b.url}\n Session On\n</Location>`, '<Location /app/private>\n SessionRequire 401\n</Location>']);
  const id = (await visit(off.port, '/app/set?a=1')).cookie;
  const login = await visit(off.port, '/app/login?user=g', id);
  assert.equal(login.cookie, undefined, 'the id stays');
  assert.equal((await visit(off.port, '/app/private/x', id)).status, 200);

  const zero = await proxyDaemon(t, ['SessionKeepOldCookieTimeout 0', `<Location /app>\n ProxyPass ${b.url}\n Session On\n</Location>`, '<Location /app/private>\n SessionRequire 401\n</Location>']);
  const old = (await visit(zero.port, '/app/set?a=1')).cookie;
  const renewed = (await visit(zero.port, '/app/login?user=h', old)).cookie;
  assert.ok(renewed && renewed !== old);
  const stale = await visit(zero.port, '/app/private/x', old);
  assert.deepEqual([stale.status, stale.cookie], [401, ''], 'SessionOnInvalidCookie new: no session, cookie cleared');
});

test('cookie attributes as SessionCookieName gives them; SessionMaxLifetime ends even a busy session', async (t) => {
  const b = await sessionBackend(t);
  const d = await proxyDaemon(t, [
    'SessionCookieName sid "Path=/app;Secure;SameSite=Strict;Domain=example.com"',
    'SessionMaxLifetime 2s',
    'SessionExpiryUpdateInterval 0',
    `<Location /app>\n ProxyPass ${b.url}\n Session On\n</Location>`,
    '<Location /app/private>\n SessionRequire 401\n</Location>',
  ]);
  const r = await request(d.port, '/app/login?user=kim');
  const line = (r.headers['set-cookie'] ?? [])[0] ?? '';
  assert.match(line, /^sid=[A-Za-z0-9_-]{24}; Path=\/app; Domain=example.com; Secure; SameSite=Strict$/);
  const id = cookieOf(r, 'sid') as string;
  const withCookie = (path: string) => request(d.port, path, { headers: { cookie: `sid=${id}` } });
  for (let i = 0; i < 3; i++) {
    assert.equal((await withCookie('/app/private/x')).status, 200);
    await sleep(400);
  }
  await sleep(1000);
  assert.equal((await withCookie('/app/private/x')).status, 401, 'over SessionMaxLifetime although used all along');
});
