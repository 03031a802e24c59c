// HTTP/2 over TLS (Protocols h2): ALPN offers h2 first on https listeners; curl --http2 and
// h2load negotiate it, clients without ALPN or that offer only HTTP/1.1 get HTTP/1.1, and
// without h2 in Protocols ALPN never says h2. Certificates are made at test time.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import https from 'node:https';
import { test } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { daemonFor, statusLocation, testDir } from './helpers/cli';
import { freePort, waitFor } from './helpers/daemon';
import { h2Request } from './helpers/h2';
import { issue, pki, writePems } from './helpers/pki';
import { httpBackend } from './helpers/proxy';

const run = promisify(execFile);

/** The protocol ALPN settles on when the client offers `protocols`, or false without one. */
function alpn(port: number, ca: string, protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'h2.test', ca, ALPNProtocols: protocols }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

test('HTTP/2 over TLS', async (t) => {
  const dir = testDir(t);
  const { root, intermediate } = pki('h2');
  const server = issue('h2.test', { issuer: intermediate, names: ['h2.test'] });
  const f = writePems(dir, { 'h2.pem': server.certPem, 'h2.key': server.keyPem, 'chain.pem': intermediate.certPem, 'root.pem': root.certPem });
  const backend = await httpBackend(t);
  const [h2Port, h1Port] = [await freePort(), await freePort()];
  const d = await daemonFor(t, {
    waitChildren: 2,
    config: [
      'Listen 127.0.0.1:@PORT@',
      `Listen 127.0.0.1:${h2Port} https`,
      'StartServers 2',
      'MinSpareThreads 1',
      'Protocols h2 http/1.1',
      statusLocation,
      `SSLCertificateFile ${f['h2.pem']}`,
      `SSLCertificateKeyFile ${f['h2.key']}`,
      `SSLCertificateChainFile ${f['chain.pem']}`,
      `ProxyPass /app/ ${backend.url}/`,
    ].join('\n'),
  });
  const ca = root.certPem;
  const url = `https://h2.test:${h2Port}`;
  const resolve = ['--resolve', `h2.test:${h2Port}:127.0.0.1`, '--cacert', f['root.pem']];

  await t.test('ALPN offers h2 first, and HTTP/1.1 to clients that ask for it', async () => {
    assert.equal(await alpn(h2Port, ca, ['h2', 'http/1.1']), 'h2');
    assert.equal(await alpn(h2Port, ca, ['http/1.1', 'h2']), 'h2');
    assert.equal(await alpn(h2Port, ca, ['http/1.1']), 'http/1.1');
  });

  await t.test('curl --http2 negotiates HTTP/2 and is proxied; --http1.1 gets HTTP/1.1 on the same port', async () => {
    const h2 = await run('curl', ['-s', '-i', '--http2', ...resolve, `${url}/app/echo?tls=1`]);
    assert.match(h2.stdout, /^HTTP\/2 200/);
    const seen = JSON.parse(h2.stdout.slice(h2.stdout.indexOf('\r\n\r\n') + 4)) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/echo?tls=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], `h2.test:${h2Port}`);
    const h1 = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http1.1', ...resolve, `${url}/app/x`]);
    assert.equal(h1.stdout, '1.1 200');
  });

  await t.test('Node\'s HTTP/2 client: more streams than LimitStreams on one TLS connection, queued by the client', async (st) => {
    const session = http2.connect(url, { ca, servername: 'h2.test', host: '127.0.0.1', port: h2Port } as http2.SecureClientSessionOptions);
    st.after(() => session.close());
    // Once it knows LimitStreams (20 by default), the client queues what is over it.
    const settings = await new Promise<http2.Settings>((r) => session.once('remoteSettings', r));
    assert.equal(settings.maxConcurrentStreams, 20);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => h2Request(session, { ':path': `/app/echo?i=${i}` })));
    assert.deepEqual(
      answers.map((a) => a.headers[':status']),
      answers.map(() => 200),
    );
    assert.equal(answers.filter((a) => (JSON.parse(a.body.toString()) as { url: string }).url.startsWith('/echo?i=')).length, 30);
  });

  await t.test('Upgrade: h2c over TLS is not taken up: the request is answered in HTTP/1.1', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: h2Port,
          path: '/app/echo',
          servername: 'h2.test',
          ca,
          agent: false,
          headers: { host: 'h2.test', connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('upgrade', () => reject(new Error('upgraded over TLS')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  });

  await t.test('h2load over TLS: every request answered', async () => {
    const before = await d.status();
    const { stdout } = await run('h2load', ['-n', '1000', '-c', '4', '-m', '10', `https://127.0.0.1:${h2Port}/app/echo`], { timeout: 60_000 });
    assert.match(stdout, /Application protocol: h2/);
    assert.match(stdout, /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored/);
    await waitFor('the requests in the scoreboard', async () =>
      Number((await d.status()).fields['Total Accesses']) - Number(before.fields['Total Accesses']) >= 1000,
    );
  });

  // The port without h2 in Protocols never offers it: a second daemon.
  const plain = await daemonFor(t, {
    config: [
      `Listen 127.0.0.1:${h1Port} https`,
      'StartServers 1',
      `SSLCertificateFile ${f['h2.pem']}`,
      `SSLCertificateKeyFile ${f['h2.key']}`,
      `SSLCertificateChainFile ${f['chain.pem']}`,
      `ProxyPass /app/ ${backend.url}/`,
    ].join('\n'),
    port: h1Port,
  });
  await t.test('without h2 in Protocols, ALPN offers nothing and curl --http2 gets HTTP/1.1', async () => {
    assert.equal(await alpn(plain.port, ca, ['h2', 'http/1.1']), false);
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2', '--resolve', `h2.test:${h1Port}:127.0.0.1`, '--cacert', f['root.pem'], `https://h2.test:${h1Port}/app/x`]);
    assert.equal(r.stdout, '1.1 200');
  });
});
