// https backends of a running daemon (SSLProxy*: CA, client certificate, peer name, verify) and
// backends reached through a CONNECT proxy with basic credentials (ProxyRemote).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from './helpers/daemon';
import { launch } from './helpers/mpm';
import { answerOf, connectProxy, makePki, namedBackend } from './helpers/upstream';

test('https backends and a CONNECT proxy', async (t) => {
  const pki = makePki(t);
  const local = pki.server(['localhost', '127.0.0.1']);
  const good = await namedBackend(t, 'good', { tls: local });
  const unverified = await namedBackend(t, 'unverified', { tls: local });
  const mtls = await namedBackend(t, 'mtls', { tls: { ...local, ca: pki.ca, requestCert: true } });
  const misnamed = await namedBackend(t, 'misnamed', { tls: pki.server(['other.example']) });
  const tunnelled = await namedBackend(t, 'tunnelled', { tls: local });
  const proxy = await connectProxy(t, 'proxyuser', 's3cret');
  const clientFile = pki.clientFile('mpmproxy-client');
  const daemon = await launch(t, {
    config: [
      'StartServers 2',
      `SSLProxyCACertificateFile ${pki.caFile}`,
      `ProxyPass /good/ https://localhost:${good.port}/`,
      // The same backend by another origin, trusting another CA.
      `ProxyPass /wrong-ca/ https://127.0.0.1:${good.port}/`,
      `<Proxy https://127.0.0.1:${good.port}>`,
      ` SSLProxyCACertificateFile ${pki.otherCaFile}`,
      '</Proxy>',
      `ProxyPass /unverified/ https://127.0.0.1:${unverified.port}/`,
      `<Proxy https://127.0.0.1:${unverified.port}>`,
      ` SSLProxyCACertificateFile ${pki.otherCaFile}`,
      ' SSLProxyVerify none',
      '</Proxy>',
      `ProxyPass /mtls/ https://127.0.0.1:${mtls.port}/`,
      `<Proxy https://127.0.0.1:${mtls.port}>`,
      ` SSLProxyMachineCertificateFile ${clientFile}`,
      '</Proxy>',
      `ProxyPass /misnamed/ https://127.0.0.1:${misnamed.port}/`,
      `ProxyPass /unchecked-name/ https://localhost:${misnamed.port}/`,
      `<Proxy https://localhost:${misnamed.port}>`,
      ' SSLProxyCheckPeerName off',
      '</Proxy>',
      `ProxyPass /tunnel/ https://localhost:${tunnelled.port}/`,
      `ProxyRemote https://localhost:${tunnelled.port} http://proxyuser:s3cret@127.0.0.1:${proxy.port}`,
      `ProxyPass /tunnel-refused/ https://127.0.0.1:${tunnelled.port}/`,
      `ProxyRemote https://127.0.0.1:${tunnelled.port} http://proxyuser:wrong@127.0.0.1:${proxy.port}`,
    ].join('\n'),
  });
  const get = async (p: string) => answerOf(await request(daemon.port, p));

  await t.test('the backend certificate must chain to SSLProxyCACertificateFile', async () => {
    assert.equal(await get('/good/'), 'good');
    assert.equal(await get('/wrong-ca/'), 'HTTP_502');
    assert.equal(good.requests, 1);
  });

  await t.test('SSLProxyVerify none accepts any certificate', async () => {
    assert.equal(await get('/unverified/'), 'unverified');
  });

  await t.test('SSLProxyMachineCertificateFile is the client certificate the backend sees', async () => {
    assert.equal(await get('/mtls/'), 'mtls');
    assert.equal(mtls.lastClientCn, 'mpmproxy-client');
  });

  await t.test('SSLProxyCheckPeerName: a certificate for another name fails, unless the check is off', async () => {
    assert.equal(await get('/misnamed/'), 'HTTP_502');
    assert.equal(misnamed.requests, 0);
    assert.equal(await get('/unchecked-name/'), 'misnamed');
  });

  await t.test('ProxyRemote: an https backend through a CONNECT tunnel, 407 with wrong credentials', async () => {
    assert.equal(await get('/tunnel/'), 'tunnelled');
    assert.equal(await get('/tunnel/'), 'tunnelled');
    assert.deepEqual(proxy.targets.slice(0, 1), [`localhost:${tunnelled.port}`]);
    assert.ok(proxy.tunnels >= 1 && proxy.tunnels <= 2, `${proxy.tunnels} tunnels`);
    assert.equal(await get('/tunnel-refused/'), 'HTTP_502');
    assert.equal(proxy.refused, 1);
    assert.equal(tunnelled.requests, 2);
  });
});
