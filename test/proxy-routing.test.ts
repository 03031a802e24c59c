// Where proxied requests go on a running daemon, and what comes back: longest prefix, `!`,
// <Location>, virtual hosts inheriting the server's routes, normalized paths, ProxyPassReverse
// and ProxyPreserveHost.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { request } from './helpers/daemon';
import { echo, httpBackend, parseHead, proxyDaemon, rawExchange, type SeenRequest, type TestBackend } from './helpers/proxy';

interface Seen {
  status: number;
  url?: string;
  host?: string;
}

test('routing and rewriting', async (t) => {
  // Each redirects to its own URL, as backends behind a proxy do.
  const redirecting = (self: () => TestBackend) => (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => {
    const url = self().url;
    if (!req.url?.endsWith('/redirect')) return echo(req, res, seen);
    res.writeHead(302, { location: `${url}/next?x=1`, 'content-location': `${url.toUpperCase()}/doc`, uri: `${url}/u`, link: `${url}/not-mapped` });
    res.end();
  };
  const a: TestBackend = await httpBackend(t, redirecting(() => a));
  const b: TestBackend = await httpBackend(t, redirecting(() => b));
  const d = await proxyDaemon(t, [
    'ServerName front.example',
    `ProxyPass /app/ ${a.url}/`,
    'ProxyPass /app/static/ !',
    `ProxyPassReverse /app/ ${a.url}/`,
    `<Location /api>\n ProxyPass ${b.url}/echo retry=5\n</Location>`,
    '<Location /app/admin>\n ProxyPreserveHost On\n</Location>',
    '<VirtualHost *:@PORT@>\n ServerName default.example\n</VirtualHost>',
    [
      '<VirtualHost *:@PORT@>',
      ' ServerName v.example',
      ' ProxyPreserveHost On',
      ` ProxyPass /v/ ${b.url}/`,
      ' ProxyPass /app/private/ !',
      ` <Location /loc/>\n  ProxyPass ${b.url}/\n  ProxyPassReverse ${b.url}/\n </Location>`,
      '</VirtualHost>',
    ].join('\n'),
  ]);

  /** What a backend's echo saw of a request sent with this Host. */
  const seen = async (path: string, host = 'default.example'): Promise<Seen> => {
    const r = await request(d.port, path, { headers: { host } });
    if (r.status !== 200) return { status: r.status };
    const e = JSON.parse(r.body.toString()) as { url: string; headers: Record<string, string> };
    return { status: r.status, url: e.url, host: e.headers.host };
  };

  await t.test('takes the longest prefix; ! excludes; <Location> routes without a path; whole segments only', async () => {
    const aHost = `127.0.0.1:${a.port}`;
    assert.deepEqual(await seen('/app/echo?x=1'), { status: 200, url: '/echo?x=1', host: aHost });
    assert.deepEqual(await seen('/app/static/x'), { status: 404 });
    assert.deepEqual(await seen('/api?q=1'), { status: 200, url: '/echo?q=1', host: `127.0.0.1:${b.port}` });
    assert.deepEqual(await seen('/apple'), { status: 404 });
    assert.equal(a.seen.filter((s) => s.url.includes('static')).length, 0);
  });

  await t.test('matches the normalized path: dot segments, %2e and // cannot get past an exclusion', async () => {
    for (const path of ['/app/x/../static/y', '/app//static/y', '/app/%2e%2E/app/static/y', '/app/./static/y']) {
      assert.deepEqual(await seen(path), { status: 404 }, path);
    }
    assert.deepEqual(await seen('/app/x/%2E%2E/echo'), { status: 200, url: '/echo', host: `127.0.0.1:${a.port}` });
    const above = parseHead((await rawExchange(d.port, ['GET /../etc/passwd HTTP/1.1\r\nHost: default.example\r\nConnection: close\r\n\r\n'], { idleMs: 5000 })).text);
    assert.deepEqual([above.status, above.headers.connection], [400, 'close']);
    // absolute-form request targets are routed by their path (RFC 9112 §3.2.2)
    const absolute = parseHead((await rawExchange(d.port, ['GET http://elsewhere.example/app/echo HTTP/1.1\r\nHost: default.example\r\nConnection: close\r\n\r\n'], { idleMs: 5000 })).text);
    assert.equal(absolute.status, 200);
    assert.equal(JSON.parse(absolute.body).url, '/echo');
  });

  await t.test('ProxyPassReverse maps Location, Content-Location and URI back under the scheme and Host the client used', async () => {
    const r = await request(d.port, '/app/redirect', { headers: { host: 'front.example:8080' } });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://front.example:8080/app/next?x=1');
    // httpd compares the backend URL without regard to case
    assert.equal(r.headers['content-location'], 'http://front.example:8080/app/doc');
    assert.equal(r.headers.uri, 'http://front.example:8080/app/u');
    assert.equal(r.headers.link, `${a.url}/not-mapped`);
  });

  await t.test('ProxyPreserveHost: Off by default, On in a <Location> below a ProxyPass and in a virtual host', async () => {
    assert.equal((await seen('/app/echo')).host, `127.0.0.1:${a.port}`);
    // The <Location /app/admin> applies to its requests only, which still go to /app/'s backend.
    assert.deepEqual(await seen('/app/admin/echo', 'default.example:81'), { status: 200, url: '/admin/echo', host: 'default.example:81' });
    assert.deepEqual(await seen('/v/echo', 'v.example'), { status: 200, url: '/echo', host: 'v.example' });
  });

  await t.test('a virtual host inherits the server’s routes, under its own options, beside its own routes', async () => {
    assert.deepEqual(await seen('/app/echo', 'v.example'), { status: 200, url: '/echo', host: 'v.example' });
    assert.deepEqual(await seen('/app/private/x', 'v.example'), { status: 404 });
    assert.equal((await seen('/app/private/echo', 'default.example')).url, '/private/echo');
    const r = await request(d.port, '/loc/redirect', { headers: { host: 'v.example' } });
    assert.equal(r.headers.location, 'http://v.example/loc/next?x=1');
  });
});
