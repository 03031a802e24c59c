// Where requests go on a running daemon: SetHandler, ProxyPass (prefix, `!`, longest prefix)
// and name-based virtual hosts chosen by the Host header.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, request } from './helpers/daemon';
import type { Daemon } from './helpers/daemon';
import { daemonFor } from './helpers/cli';
import { launchBackend } from './helpers/mpm';

const config = (...lines: string[]) => [...lines, 'StartServers 1'].join('\n');

/** What the backend's /echo saw, and which backend it was (its port is in the Host header). */
async function echo(d: Daemon, urlPath: string, host?: string): Promise<{ status: number; url?: string; host?: string }> {
  const r = await request(d.port, urlPath, host ? { headers: { host } } : {});
  if (r.status !== 200) return { status: r.status };
  const seen = JSON.parse(r.body.toString()) as { url: string; headers: Record<string, string> };
  return { status: r.status, url: seen.url, host: seen.headers.host };
}

test('SetHandler server-status and default-page answer under their <Location>, nothing else is routed', async (t) => {
  const d = await daemonFor(t, {
    config: config(
      '<Location /st>\n SetHandler server-status\n</Location>',
      '<Location /page>\n SetHandler default-page\n</Location>',
    ),
    waitChildren: 0,
  });
  const auto = await request(d.port, '/st?auto');
  assert.equal(auto.status, 200);
  assert.equal(auto.headers['content-type'], 'text/plain; charset=utf-8');
  assert.match(auto.body.toString(), /^ServerMPM: event$/m);
  const html = await request(d.port, '/st');
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(html.body.toString(), /<title>Server Status/);
  const page = await request(d.port, '/page/any/thing');
  assert.equal(page.status, 200);
  assert.match(page.body.toString(), /<h1>It works: mpmproxy /);
  assert.equal((await request(d.port, '/server-status')).status, 404);
  assert.equal((await request(d.port, '/pages')).status, 404);
});

test('ProxyPass: prefix routing to the backend, ! excludes, the longest prefix wins', async (t) => {
  const a = await launchBackend(t);
  const b = await launchBackend(t);
  const d = await daemonFor(t, {
    config: config(
      `ProxyPass /app/ ${a.url}/`,
      'ProxyPass /app/static/ !',
      `ProxyPass /app/deep/ ${b.url}/`,
      `<Location /api>\n ProxyPass ${b.url}/echo\n</Location>`,
    ),
  });
  const aHost = `127.0.0.1:${a.port}`;
  const bHost = `127.0.0.1:${b.port}`;
  assert.deepEqual(await echo(d, '/app/echo?x=1'), { status: 200, url: '/echo?x=1', host: aHost });
  assert.deepEqual(await echo(d, '/app/static/echo'), { status: 404 });
  assert.deepEqual(await echo(d, '/app/deep/echo'), { status: 200, url: '/echo', host: bHost });
  // Inside <Location> the path is the Location's; the rest of the URL follows the backend's path.
  assert.deepEqual(await echo(d, '/api?q=1'), { status: 200, url: '/echo?q=1', host: bHost });
  assert.equal(b.requests, 2);
  assert.equal(a.requests, 1);
  assert.equal((await request(d.port, '/apple')).status, 404);
});

test('ServerName and ServerAlias inside <VirtualHost>: the Host header picks the vhost routes', async (t) => {
  const a = await launchBackend(t);
  const b = await launchBackend(t);
  const main = await launchBackend(t);
  const other = await freePort();
  const d = await daemonFor(t, {
    config: config(
      'Listen 127.0.0.1:@PORT@',
      `Listen 127.0.0.1:${other}`,
      `ProxyPass / ${main.url}/`,
      `<VirtualHost *:@PORT@>\n ServerName a.example\n ServerAlias www.a.example\n ProxyPass / ${a.url}/\n</VirtualHost>`,
      `<VirtualHost *:@PORT@>\n ServerName b.example\n ProxyPass / ${b.url}/\n</VirtualHost>`,
    ),
  });
  const hostOf = async (host: string) => (await echo(d, '/echo', host)).host;
  assert.equal(await hostOf('a.example'), `127.0.0.1:${a.port}`);
  assert.equal(await hostOf(`A.Example:${d.port}`), `127.0.0.1:${a.port}`);
  assert.equal(await hostOf('www.a.example'), `127.0.0.1:${a.port}`);
  assert.equal(await hostOf('b.example'), `127.0.0.1:${b.port}`);
  // As in httpd: an unknown name goes to the first virtual host of the address it came to, and
  // the main server answers only on addresses that no <VirtualHost> names.
  assert.equal(await hostOf('other.example'), `127.0.0.1:${a.port}`);
  const onOther = await request(other, '/echo', { headers: { host: 'a.example' } });
  assert.equal(JSON.parse(onOther.body.toString()).headers.host, `127.0.0.1:${main.port}`);
});

test('ServerAlias with wildcards (* and ?) matches the Host header as the directive says', async (t) => {
  const first = await launchBackend(t);
  const a = await launchBackend(t);
  const d = await daemonFor(t, {
    config: config(
      `<VirtualHost *:@PORT@>\n ServerName default.example\n ProxyPass / ${first.url}/\n</VirtualHost>`,
      `<VirtualHost *:@PORT@>\n ServerName a.example\n ServerAlias *.a.example shop?.example\n ProxyPass / ${a.url}/\n</VirtualHost>`,
    ),
  });
  const hostOf = async (host: string) => (await echo(d, '/echo', host)).host;
  assert.equal(await hostOf('www.a.example'), `127.0.0.1:${a.port}`);
  assert.equal(await hostOf('deep.www.a.example'), `127.0.0.1:${a.port}`);
  assert.equal(await hostOf('shop1.example'), `127.0.0.1:${a.port}`);
  // No match: the first virtual host of the address answers.
  assert.equal(await hostOf('shop12.example'), `127.0.0.1:${first.port}`);
  assert.equal(await hostOf('a.example.org'), `127.0.0.1:${first.port}`);
});
