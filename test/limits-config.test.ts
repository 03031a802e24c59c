// The `limits` part of Settings: defaults, values as written, RequestReadTimeout's stages, and
// LimitKeepAlive against MaxKeepAliveRequests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, resolveSettings } from '../src/config';
import { defaultBodyTimeout, defaultHeaderTimeout } from '../src/limits/settings';

const settings = (...lines: string[]) => resolveSettings(loadConfig({ text: ['Listen 8080', ...lines].join('\n') }), { cpus: 2, uid: 1000 });

test('defaults: counting limits off, Node\'s header size, Apache\'s field count, mod_reqtimeout\'s times', () => {
  const l = settings().limits;
  assert.deepEqual(
    [l.clients, l.connections, l.connectionsPerClient, l.requestsPerClient, l.requestBody, l.requestForm, l.upload],
    [0, 0, 0, 0, 0, 0, 0],
  );
  assert.deepEqual([l.requestHeader, l.requestHeaderLines, l.uri, l.chunk, l.packet, l.streams], [16384, 100, 8192, 0, 0, 20]);
  assert.deepEqual(l.readTimeout, { header: defaultHeaderTimeout, body: defaultBodyTimeout });
  assert.deepEqual(defaultHeaderTimeout, { timeout: 20_000, max: 40_000, minRate: 500 });
});

test('values as written: counts, sizes with units, unlimited', () => {
  const l = settings(
    'LimitClients 10', 'LimitConnections 50', 'LimitConnectionsPerClient 5', 'LimitRequestsPerClient unlimited',
    'LimitRequestBody 32K', 'LimitRequestForm 64K', 'LimitUpload 20MB', 'LimitUri 4096', 'LimitPacket 16K', 'LimitChunk 8K',
    'LimitCache 8192', 'LimitCacheItem 1K', 'LimitWebSocketsFrame 4K',
  ).limits;
  assert.deepEqual(
    [l.clients, l.connections, l.connectionsPerClient, l.requestsPerClient, l.requestBody, l.requestForm, l.upload, l.uri],
    [10, 50, 5, 0, 32768, 65536, 20 * 2 ** 20, 4096],
  );
  assert.deepEqual([l.packet, l.chunk, l.cache, l.cacheItem, l.webSocketsFrame], [16384, 8192, 8192, 1024, 4096]);
});

test('RequestReadTimeout: a stage written replaces its default, the other keeps it, 0 turns one off', () => {
  assert.deepEqual(settings('RequestReadTimeout header=5-10,MinRate=100').limits.readTimeout, {
    header: { timeout: 5000, max: 10000, minRate: 100 },
    body: defaultBodyTimeout,
  });
  assert.deepEqual(settings('RequestReadTimeout header=0 body=30').limits.readTimeout, {
    header: null,
    body: { timeout: 30000, max: 0, minRate: 0 },
  });
});

test('LimitKeepAlive and MaxKeepAliveRequests: the smaller is in force, unlimited gives way to a number', () => {
  assert.equal(settings('LimitKeepAlive 50').maxKeepAliveRequests, 50);
  assert.equal(settings('LimitKeepAlive 500').maxKeepAliveRequests, 100);
  assert.equal(settings('MaxKeepAliveRequests 0', 'LimitKeepAlive 7').maxKeepAliveRequests, 7);
  assert.equal(settings('MaxKeepAliveRequests 0').maxKeepAliveRequests, 0);
});
