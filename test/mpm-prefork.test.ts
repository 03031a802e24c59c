// prefork: a child serves one connection at a time, and connections beyond MaxRequestWorkers
// wait in the kernel backlog until a child is free: never refused, never answered 503.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concurrentRequests, launchProxy, logsMatching } from './helpers/mpm';

const SLOW_MS = 1500;

test('prefork at MaxRequestWorkers 2 serves three slow requests two at a time; the third waits and succeeds', async (t) => {
  const { daemon, backend } = await launchProxy(
    t,
    ['MPM prefork', 'StartServers 2', 'MinSpareServers 1', 'MaxSpareServers 2', 'MaxRequestWorkers 2'],
    { waitChildren: 2 },
  );
  const answers = await concurrentRequests(daemon.port, Array(3).fill(`/b/slow?ms=${SLOW_MS}`));

  for (const a of answers) {
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), `slow done after ${SLOW_MS} ms\n`);
  }
  assert.equal(backend.maxInFlight, 2, 'two children serve two connections at once, no more');
  assert.equal(backend.requests, 3);
  const [first, second, third] = answers.map((a) => a.ms).sort((a, b) => a - b);
  assert.ok(second < SLOW_MS + 700, `the first two run together (${first}, ${second} ms)`);
  assert.ok(third >= 2 * SLOW_MS - 50 && third < 2 * SLOW_MS + 1000, `the third ran after one of them (${third} ms)`);
  // Every child stayed busy for a whole maintenance pass: the master wanted a spare it may not start.
  assert.equal(logsMatching(daemon, /^server reached MaxRequestWorkers setting/).length, 1);
  assert.equal(logsMatching(daemon, /spawning/).length, 0, 'never more children than MaxRequestWorkers');
});
