// What the backend and the client see of each other's headers: X-Forwarded-* added, believed only
// from ProxyTrustedAddresses (spoofing protection), ProxyAddHeaders Off, Via both ways, and
// hop-by-hop headers (Connection-listed ones too) stopped in both directions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpBackend, parseHead, proxyDaemon, rawExchange } from './helpers/proxy';

/** Header lines by lower-case name, repeated lines joined as a recipient reads them. */
function headerMap(raw: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    map[name] = map[name] === undefined ? raw[i + 1] : `${map[name]}, ${raw[i + 1]}`;
  }
  return map;
}

const forwardingAndHops = [
  'X-Forwarded-For: 6.6.6.6',
  'X-Forwarded-Host: orig.example',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Server: edge',
  'X-Forwarded-Port: 443',
  'Forwarded: for=6.6.6.6',
  'Via: 1.0 edge',
  'Connection: close, X-Hop',
  'X-Hop: secret',
  'Keep-Alive: timeout=5',
  'TE: trailers',
  'Proxy-Authorization: Basic eHl6',
  'Upgrade: h2c',
  'X-Keep: kept',
];

test('forwarding headers, trust, Via and hop-by-hop headers', async (t) => {
  const b = await httpBackend(t, (req, res) => {
    req.resume();
    res.writeHead(200, ['Connection', 'keep-alive, X-B', 'X-B', '1', 'Keep-Alive', 'timeout=9', 'Proxy-Authenticate', 'Basic', 'X-Keep', 'yes', 'Via', '1.1 cache', 'Content-Length', '2']);
    res.end('ok');
  });
  const host = (name: string, trusted: string) =>
    [`<VirtualHost *:@PORT@>`, ` ServerName ${name}`, ` ProxyTrustedAddresses ${trusted}`, ` ProxyPass / ${b.url}/`, ' <Location /off/>', '  ProxyAddHeaders Off', ' </Location>', '</VirtualHost>'].join('\n');
  const d = await proxyDaemon(t, [host('trusted.example', '127.0.0.0/8 ::1'), host('untrusted.example', '10.0.0.0/8 fd00::/8')]);

  /** What the backend saw of a request for `path` on `vhost` carrying the forwarding and hop-by-hop headers. */
  const sent = async (vhost: string, path = '/x', version = '1.1') => {
    const reply = await rawExchange(d.port, [`GET ${path} HTTP/${version}\r\nHost: ${vhost}\r\n${forwardingAndHops.join('\r\n')}\r\n\r\n`], { idleMs: 5000 });
    assert.equal(parseHead(reply.text).status, 200, reply.text);
    return { backend: headerMap(b.seen.at(-1)?.rawHeaders ?? []), client: parseHead(reply.text).headers };
  };

  /** The forwarding headers the backend saw, in the order For, Host, Proto, Server, Port, Forwarded. */
  const forwarding = (h: Record<string, string>) =>
    ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-server', 'x-forwarded-port', 'forwarded'].map((n) => h[n]);

  await t.test('from a trusted client, X-Forwarded-* and Forwarded are kept and ours appended', async () => {
    assert.deepEqual(forwarding((await sent('trusted.example')).backend), [
      '6.6.6.6, 127.0.0.1',
      'orig.example, trusted.example',
      'https, http',
      'edge, trusted.example',
      '443',
      'for=6.6.6.6',
    ]);
  });

  await t.test('from any other client they are removed before ours are added', async () => {
    assert.deepEqual(forwarding((await sent('untrusted.example')).backend), ['127.0.0.1', 'untrusted.example', 'http', 'untrusted.example', undefined, undefined]);
  });

  await t.test('ProxyAddHeaders Off adds none: a trusted client’s pass as they are, another’s are still removed', async () => {
    assert.deepEqual(forwarding((await sent('trusted.example', '/off/x')).backend), ['6.6.6.6', 'orig.example', 'https', 'edge', '443', 'for=6.6.6.6']);
    const other = (await sent('untrusted.example', '/off/x')).backend;
    assert.deepEqual(Object.keys(other).filter((n) => n.startsWith('x-forwarded-') || n === 'forwarded'), []);
  });

  await t.test('Via is appended both ways, naming the protocol version received', async () => {
    const { backend } = await sent('trusted.example');
    assert.equal(backend.via, '1.0 edge, 1.1 trusted.example');
    const raw = (await rawExchange(d.port, ['GET /x HTTP/1.1\r\nHost: trusted.example\r\nConnection: close\r\n\r\n'], { idleMs: 5000 })).text;
    assert.ok(raw.includes('\r\nVia: 1.1 cache\r\n') && raw.includes('\r\nVia: 1.1 trusted.example\r\n'), raw);
    await rawExchange(d.port, ['GET /x HTTP/1.0\r\nHost: trusted.example\r\n\r\n'], { idleMs: 5000 });
    assert.equal(headerMap(b.seen.at(-1)?.rawHeaders ?? []).via, '1.0 trusted.example');
  });

  await t.test('hop-by-hop headers, and those Connection lists, stop at the proxy both ways', async () => {
    const { backend, client } = await sent('trusted.example');
    for (const name of ['x-hop', 'keep-alive', 'te', 'proxy-authorization', 'upgrade']) assert.equal(backend[name], undefined, name);
    assert.equal(backend['x-keep'], 'kept');
    assert.equal(backend.host, `127.0.0.1:${b.port}`);
    for (const name of ['x-b', 'proxy-authenticate']) assert.equal(client[name], undefined, name);
    assert.notEqual(client['keep-alive'], 'timeout=9');
    assert.equal(client['x-keep'], 'yes');
  });
});
