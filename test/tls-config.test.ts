// `mpmproxy -t` on TLS configurations: every certificate is checked (key, chain, dates, dates
// OpenSSL refuses), every SSL* value is checked, each problem as `file:line: Directive: message`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, testDir, writeFiles } from './helpers/cli';
import { issue, pki, writePems } from './helpers/pki';

const DAY = 86_400_000;

test('-t checks certificates and the SSL* directives', async (t) => {
  const dir = testDir(t);
  const { root, intermediate } = pki();
  const leaf = issue('www.example.test', { issuer: intermediate, names: ['www.example.test'] });
  const other = issue('other.example.test', { issuer: intermediate });
  const expired = issue('old.example.test', { issuer: root, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
  const soon = issue('soon.example.test', { issuer: root, notAfter: new Date(Date.now() + 10 * DAY) });
  const fractional = issue('fraction.example.test', { issuer: root, fractionalSeconds: true });
  const f = writePems(dir, {
    'root.pem': root.certPem,
    'chain.pem': intermediate.certPem,
    'leaf.pem': leaf.certPem,
    'leaf.key': leaf.keyPem,
    'other.key': other.keyPem,
    'expired.pem': expired.certPem,
    'expired.key': expired.keyPem,
    'soon.pem': soon.certPem,
    'soon.key': soon.keyPem,
    'fraction.pem': fractional.certPem,
    'fraction.key': fractional.keyPem,
  });
  const check = async (lines: string[]) => {
    const file = path.join(dir, `t${Math.random().toString(36).slice(2)}.conf`);
    writeFiles(dir, { [path.basename(file)]: ['Listen 127.0.0.1:8443 https', ...lines, ''].join('\n') });
    const r = await runCli(['-t', '-f', file]);
    return { ...r, file };
  };

  await t.test('a complete chain to a trusted root passes', async () => {
    const r = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['leaf.key']}`, `SSLCertificateChainFile ${f['chain.pem']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Syntax OK/);
  });

  await t.test('a key that is not the certificate\'s', async () => {
    const r = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['other.key']}`, `SSLCertificateChainFile ${f['chain.pem']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${r.file}:3: SSLCertificateKeyFile: the private key in ${f['other.key']} does not match the certificate "CN=www.example.test`), r.stderr);
  });

  await t.test('a missing intermediate, with the OpenSSL error 20 hint', async () => {
    const r = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['leaf.key']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${r.file}:2: SSLCertificateFile: the chain of "CN=www.example.test.*" stops at .*whose issuer "CN=mpmproxy test intermediate CA.*OpenSSL error 20.*SSLCertificateChainFile`));
  });

  await t.test('a chain complete up to a private root is a warning', async () => {
    const r = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['leaf.key']}`, `SSLCertificateChainFile ${f['chain.pem']}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ends at "CN=mpmproxy test intermediate CA, O=mpmproxy tests", issued by "CN=mpmproxy test root CA, O=mpmproxy tests", which is not a trusted root here/);
  });

  await t.test('an expired certificate', async () => {
    const r = await check([`SSLCertificateFile ${f['expired.pem']}`, `SSLCertificateKeyFile ${f['expired.key']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${r.file}:2: SSLCertificateFile: certificate "CN=old.example.test.*" in .*expired.pem expired on `));
  });

  await t.test('one expiring within 30 days is a warning', async () => {
    const r = await check([`SSLCertificateFile ${f['soon.pem']}`, `SSLCertificateKeyFile ${f['soon.key']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${r.file}:2: SSLCertificateFile: certificate "CN=soon.example.test.*" in .*soon.pem expires in (9|10) days`));
  });

  await t.test('fractional seconds in the validity dates are named', async () => {
    const r = await check([`SSLCertificateFile ${f['fraction.pem']}`, `SSLCertificateKeyFile ${f['fraction.key']}`, `SSLCACertificateFile ${f['root.pem']}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SSLCertificateFile: certificate "CN=fraction\.example\.test.*" in .*fraction\.pem has fractional seconds in its validity dates \(\d{14}\.\d{3}Z, \d{14}\.\d{3}Z\)/);
  });

  await t.test('bad values, each at its line', async () => {
    const r = await check([
      `SSLCertificateFile ${f['leaf.pem']}`,
      `SSLCertificateKeyFile ${f['leaf.key']}`,
      `SSLCertificateChainFile ${f['chain.pem']}`,
      'SSLProtocol -all +TLSv1 +TLSv1.3',
      'SSLProtocol +SSLv3',
      'SSLCipherSuite NO-SUCH-CIPHER',
      'SSLCipherSuite TLSv1.3 AES256-SHA',
      'SSLVerifyDepth 1',
      'SSLSessionCache dbm:/tmp/x',
      'SSLSessionCache shm:1K',
      'SSLClientCertHeaders subject',
      'SSLClientCertHeaders colour=X-Colour',
      'SSLEngine maybe',
    ]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    const at = (n: number, re: RegExp) => assert.ok(lines.some((l) => l.startsWith(`${r.file}:${n}: `) && re.test(l)), `line ${n}: ${r.stderr}`);
    at(5, /SSLProtocol: TLSv1 TLSv1.3 is not a contiguous range/);
    at(6, /SSLProtocol: SSLv3 is not supported/);
    at(7, /SSLCipherSuite: no usable cipher in the list/);
    at(8, /SSLCipherSuite: TLS 1.3 cipher suites are named TLS_\*/);
    at(10, /SSLSessionCache: must be none, shm:size/);
    at(11, /SSLSessionCache: the cache needs at least 64K/);
    at(12, /SSLClientCertHeaders: expected field=Header-Name/);
    at(13, /SSLClientCertHeaders: unknown field "colour"/);
    at(14, /SSLEngine: must be On or Off/);
    assert.equal(lines.length, 9, r.stderr);
    const noCa = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['leaf.key']}`, `SSLCertificateChainFile ${f['chain.pem']}`, 'SSLVerifyClient require']);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, new RegExp(`${noCa.file}:5: SSLVerifyClient: require needs SSLCACertificateFile`));
  });

  await t.test('an https Listen without certificate, SSLEngine on without certificate, optional_no_ca warned', async () => {
    let r = await check(['<VirtualHost *:8443>', ' SSLEngine on', '</VirtualHost>']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${r.file}:3: SSLEngine: <VirtualHost \\*:8443> at .* has no certificate`));
    assert.match(r.stderr, new RegExp(`${r.file}:1: Listen: 127.0.0.1:8443 https serves TLS but no certificate covers it`));
    r = await check([`SSLCertificateFile ${f['leaf.pem']}`, `SSLCertificateKeyFile ${f['leaf.key']}`, `SSLCertificateChainFile ${f['chain.pem']}`, `SSLCACertificateFile ${f['root.pem']}`, 'SSLVerifyClient optional_no_ca', 'SSLSessionCache shmcb:/var/run/ssl_scache(512000)']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${r.file}:6: SSLVerifyClient: optional_no_ca accepts any client certificate .* disables certificate authentication`));
  });
});

test('mpmproxy cert selfsigned writes a key and a certificate that -t accepts', async (t) => {
  const dir = testDir(t);
  const out = path.join(dir, 'tls');
  const r = await runCli(['cert', 'selfsigned', 'demo.example.test', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const cert = path.join(out, 'demo.example.test.crt');
  const key = path.join(out, 'demo.example.test.key');
  assert.match(r.stdout, new RegExp(`wrote ${key} and ${cert}`));
  const { X509Certificate } = await import('node:crypto');
  const fs = await import('node:fs');
  const x509 = new X509Certificate(fs.readFileSync(cert));
  assert.match(x509.subject, /CN=demo\.example\.test/);
  assert.ok(x509.checkHost('demo.example.test'));
  assert.equal(fs.statSync(key).mode & 0o777, 0o600);
  writeFiles(dir, { 'a.conf': `Listen 127.0.0.1:8443 https\nSSLCertificateFile ${cert}\nSSLCertificateKeyFile ${key}\n` });
  const checked = await runCli(['-t', '-f', path.join(dir, 'a.conf')]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stderr, /is self-signed/);
  const bad = await runCli(['cert', 'selfsigned']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cert selfsigned needs a host name/);
  const unwritable = await runCli(['cert', 'selfsigned', 'x.test', '--out', path.join(cert, 'sub')]);
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /mpmproxy: cannot write/);
});
