// HTTPS on a running daemon with two children: SNI picks the virtual host's certificate; each
// SSLVerifyClient mode against good, missing, wrong-CA and expired client certificates, with
// what the backend is told in SSLClientCertHeaders (never what the client wrote); SSLProtocol
// and SSLCipherSuite refusing clients outside them.
import assert from 'node:assert/strict';
import https from 'node:https';
import { test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { freePort } from './helpers/daemon';
import { daemonFor, statusLocation, testDir } from './helpers/cli';
import { httpBackend } from './helpers/proxy';
import { issue, pki, writePems, type Issued } from './helpers/pki';

const DAY = 86_400_000;

interface Reply {
  status?: number;
  headers?: Record<string, string>;
  peer?: string;
  protocol?: string;
  cipher?: string;
  error?: string;
}

interface ClientOptions {
  servername: string;
  ca: string;
  client?: Issued;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
  headers?: Record<string, string>;
}

function get(port: number, o: ClientOptions): Promise<Reply> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/echo',
        servername: o.servername,
        headers: { host: o.servername, ...o.headers },
        ca: o.ca,
        agent: false,
        ...(o.client && { cert: o.client.certPem, key: o.client.keyPem }),
        ...(o.minVersion && { minVersion: o.minVersion }),
        ...(o.maxVersion && { maxVersion: o.maxVersion }),
        ...(o.ciphers && { ciphers: o.ciphers }),
        timeout: 5000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = new X509Certificate(socket.getPeerCertificate().raw).subject.split('\n').find((l) => l.startsWith('CN=')) ?? '';
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          const headers = res.statusCode === 200 ? (JSON.parse(body) as { headers: Record<string, string> }).headers : {};
          resolve({ status: res.statusCode, headers, peer, protocol: socket.getProtocol() ?? '', cipher: socket.getCipher().name });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

test('HTTPS: SNI, client certificates, protocols and ciphers', async (t) => {
  const dir = testDir(t);
  const { root, intermediate } = pki('server');
  const clientCa = issue('client CA', { ca: true });
  const otherCa = issue('other CA', { ca: true });
  const a = issue('a.test', { issuer: intermediate, names: ['a.test'] });
  const b = issue('b.test', { issuer: intermediate, names: ['b.test', 'c.test', 'd.test', 'p.test'] });
  const good = issue('alice', { issuer: clientCa, client: true });
  const wrongCa = issue('mallory', { issuer: otherCa, client: true });
  const expired = issue('bob', { issuer: clientCa, client: true, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
  const f = writePems(dir, {
    'a.pem': a.certPem, 'a.key': a.keyPem, 'b.pem': b.certPem, 'b.key': b.keyPem,
    'chain.pem': intermediate.certPem, 'root.pem': root.certPem, 'clients.pem': clientCa.certPem,
  });
  const backend = await httpBackend(t);
  const [tlsPort, tls13Port, cipherPort] = [await freePort(), await freePort(), await freePort()];
  const vhost = (port: number, name: string, cert: string, lines: string[]) => [
    `<VirtualHost *:${port}>`,
    ` ServerName ${name}`,
    ` SSLCertificateFile ${f[`${cert}.pem`]}`,
    ` SSLCertificateKeyFile ${f[`${cert}.key`]}`,
    ...lines.map((l) => ` ${l}`),
    '</VirtualHost>',
  ].join('\n');
  const d = await daemonFor(t, {
    waitChildren: 2,
    config: [
      'Listen 127.0.0.1:@PORT@',
      `Listen 127.0.0.1:${tlsPort} https`,
      `Listen 127.0.0.1:${tls13Port} https`,
      `Listen 127.0.0.1:${cipherPort} https`,
      'StartServers 2',
      'MinSpareThreads 1',
      statusLocation,
      `SSLCertificateChainFile ${f['chain.pem']}`,
      `SSLCACertificateFile ${f['clients.pem']}`,
      'SSLClientCertHeaders subject=X-SSL-Client-S-DN issuer=X-SSL-Client-I-DN serial=X-SSL-Client-M-Serial verify=X-SSL-Client-Verify',
      `ProxyPass /echo ${backend.url}/echo`,
      vhost(tlsPort, 'a.test', 'a', []),
      vhost(tlsPort, 'b.test', 'b', ['SSLVerifyClient require']),
      vhost(tlsPort, 'c.test', 'b', ['SSLVerifyClient optional']),
      vhost(tlsPort, 'd.test', 'b', ['SSLVerifyClient optional_no_ca']),
      vhost(tls13Port, 'p.test', 'b', ['SSLProtocol -all +TLSv1.3']),
      vhost(cipherPort, 'p.test', 'b', ['SSLProtocol -all +TLSv1.2', 'SSLCipherSuite ECDHE-RSA-AES256-GCM-SHA384']),
    ].join('\n'),
  });
  const ca = root.certPem;

  await t.test('SNI picks the certificate of the virtual host named; an unknown name gets the first', async () => {
    assert.equal((await get(tlsPort, { servername: 'a.test', ca })).peer, 'CN=a.test');
    assert.equal((await get(tlsPort, { servername: 'b.test', ca, client: good })).peer, 'CN=b.test');
    const other = await get(tlsPort, { servername: 'a.test', ca, headers: { host: 'unknown.test' } });
    assert.equal(other.peer, 'CN=a.test');
  });

  await t.test('optional_no_ca is warned about at start-up', () => {
    assert.ok(d.stderr.includes('optional_no_ca accepts any client certificate') || d.log().some((l) => /optional_no_ca accepts any client certificate/.test(String(l.msg))));
  });

  const clients: Array<[string, Issued | undefined]> = [['good', good], ['missing', undefined], ['wrong CA', wrongCa], ['expired', expired]];
  const expected: Record<string, Record<string, string>> = {
    'a.test': { good: 'NONE', missing: 'NONE', 'wrong CA': 'NONE', expired: 'NONE' },
    'b.test': { good: 'SUCCESS', missing: 'refused', 'wrong CA': 'refused', expired: 'refused' },
    'c.test': { good: 'SUCCESS', missing: 'NONE', 'wrong CA': 'refused', expired: 'refused' },
    'd.test': { good: 'SUCCESS', missing: 'NONE', 'wrong CA': 'GENEROUS', expired: 'GENEROUS' },
  };
  for (const [host, mode] of [['a.test', 'none'], ['b.test', 'require'], ['c.test', 'optional'], ['d.test', 'optional_no_ca']]) {
    await t.test(`SSLVerifyClient ${mode}`, async () => {
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
        for (const [name, client] of clients) {
          const r = await get(tlsPort, { servername: host, ca, client, maxVersion, headers: { 'X-SSL-Client-S-DN': 'CN=forged', 'x-ssl-client-verify': 'SUCCESS' } });
          const want = expected[host][name];
          const what = `${mode} ${maxVersion} ${name}: ${JSON.stringify(r)}`;
          if (want === 'refused') {
            assert.ok(r.error !== undefined, what);
            continue;
          }
          assert.equal(r.status, 200, what);
          const h = r.headers ?? {};
          assert.equal(h['x-ssl-client-verify'], want, what);
          if (want === 'NONE') {
            assert.equal(h['x-ssl-client-s-dn'], undefined, what);
          } else {
            const cert = client as Issued;
            assert.equal(h['x-ssl-client-s-dn'], `O=mpmproxy tests,CN=${cert.cert.subject.getField('CN').value}`, what);
            assert.equal(h['x-ssl-client-i-dn'], `O=mpmproxy tests,CN=${cert.cert.issuer.getField('CN').value}`, what);
            const serial = cert.cert.serialNumber.toUpperCase();
            assert.equal(h['x-ssl-client-m-serial'], serial.length % 2 === 0 ? serial : `0${serial}`, what);
          }
        }
      }
    });
  }

  await t.test('the refusals are logged with the reason', async () => {
    const refused = (re: RegExp) => d.waitLog(String(re), (l) => /client certificate refused/.test(String(l.msg)) && re.test(String(l.msg)));
    await refused(/SSLVerifyClient require\): no certificate presented/);
    await refused(/SSLVerifyClient optional\): CERT_HAS_EXPIRED/);
    await refused(/SSLVerifyClient require\): UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)/);
  });

  await t.test('plain HTTP never passes a client-supplied certificate header on', async () => {
    const r = await fetch(`http://127.0.0.1:${d.port}/echo`, { headers: { 'X-SSL-Client-S-DN': 'CN=forged' } });
    const seen = (await r.json()) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-ssl-client-s-dn'], undefined);
    assert.equal(seen.headers['x-ssl-client-verify'], undefined);
  });

  await t.test('SSLProtocol -all +TLSv1.3 refuses a TLS 1.2 client', async () => {
    const ok = await get(tls13Port, { servername: 'p.test', ca });
    assert.equal(ok.protocol, 'TLSv1.3');
    const refused = await get(tls13Port, { servername: 'p.test', ca, maxVersion: 'TLSv1.2' });
    assert.match(refused.error ?? '', /^(ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ERR_SSL_UNSUPPORTED_PROTOCOL|EPROTO)$/);
  });

  await t.test('SSLProtocol -all +TLSv1.2 with one cipher: a TLS 1.3 client gets 1.2, another cipher is refused', async () => {
    const ok = await get(cipherPort, { servername: 'p.test', ca });
    assert.equal(ok.protocol, 'TLSv1.2');
    assert.equal(ok.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    const refused = await get(cipherPort, { servername: 'p.test', ca, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    assert.match(refused.error ?? '', /^(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE|EPROTO)$/);
  });

  await t.test('both children served TLS connections', async () => {
    const s = await d.status();
    assert.ok(s.processes.filter((p) => p.connsTotal > 0).length >= 2, JSON.stringify(s.processes));
  });
});
