// The master's once-a-second maintenance pass (httpd's perform_idle_server_maintenance): idle
// children beyond MaxSpareServers retire one a pass; a shortage of idle children starts 1, 2,
// 4, 8 … children on successive passes; at MaxRequestWorkers it says so once and connections
// wait for a free child.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { decide, newMaintenanceState } from '../src/mpm/maintenance';
import type { Daemon } from './helpers/daemon';
import {
  childPidsOf,
  concurrentRequests,
  launchGate,
  launchProxy,
  logText,
  logTime,
  logsMatching,
  pidsOf,
  sleep,
  statusNow,
  waitFor,
} from './helpers/mpm';

const PASS_MS = 1000;

/** Differences between consecutive values (times in ms, process counts). */
function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

/**
 * Processes counts read from server-status every `everyMs` until stopped. Stopped with the test
 * too, so a failed test leaves no request running against a daemon that is gone.
 */
function sampleProcesses(t: TestContext, daemon: Daemon, everyMs: number): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  let failure: unknown = null;
  const loop = (async () => {
    while (running) {
      samples.push((await statusNow(daemon, 15000)).processes.length);
      await sleep(everyMs);
    }
  })().catch((err: unknown) => {
    if (running) failure = err;
  });
  const stop = async () => {
    running = false;
    await loop;
    if (failure) throw failure;
    return samples;
  };
  t.after(() => {
    running = false;
    return loop;
  });
  return { stop };
}

/** Gaps between maintenance passes are whole passes. */
function assertWholePasses(gap: number): void {
  const passes = Math.round(gap / PASS_MS);
  assert.ok(passes >= 1 && Math.abs(gap - passes * PASS_MS) <= 150, `${gap} ms is not a whole number of passes`);
}

test('a pass that finds only starting children idle keeps the spawn rate; a real spare resets it', () => {
  const state = newMaintenanceState();
  const pass = (idle: number, starting: number, active: number) =>
    decide({ idle, starting, active, maxChildren: 64, freeSlots: 64 - active, min: 1, max: 64 }, state);
  assert.deepEqual(pass(0, 0, 1), { action: 'spawn', count: 1, rate: 1 });
  assert.deepEqual(pass(0, 0, 2), { action: 'spawn', count: 2, rate: 2 });
  // The two children are still starting: nothing to start, and the shortage has not ended.
  assert.deepEqual(pass(2, 2, 4), { action: 'none' });
  assert.deepEqual(pass(0, 0, 4), { action: 'spawn', count: 4, rate: 4 });
  assert.deepEqual(pass(1, 0, 8), { action: 'none' });
  assert.deepEqual(pass(0, 0, 8), { action: 'spawn', count: 1, rate: 1 });
});

test('idle children beyond MaxSpareServers retire one a pass, gracefully', async (t) => {
  const { daemon } = await launchProxy(
    t,
    ['MPM prefork', 'StartServers 5', 'MinSpareServers 1', 'MaxSpareServers 2', 'MaxRequestWorkers 8'],
    { waitChildren: 5 },
  );
  const first = await statusNow(daemon);
  assert.equal(first.processes.length, 5);
  const sampler = sampleProcesses(t, daemon, 200);
  await waitFor('two children left', () => childPidsOf(daemon).length === 2, 10 * PASS_MS);
  // One more pass: nothing more retires once the idle children are within the limit.
  await sleep(1.5 * PASS_MS);
  const samples = await sampler.stop();

  const retired = logsMatching(daemon, /retiring child pid \d+ gracefully$/);
  assert.equal(retired.length, 3, logText(daemon));
  for (const l of retired) {
    assert.equal(l.level, 'info');
    assert.match(l.msg, /^\d+ idle children > MaxSpareServers 2: retiring child pid \d+ gracefully$/);
    assert.ok(Number(l.idle) > 2);
  }
  for (const gap of gaps(retired.map(logTime))) assertWholePasses(gap);
  const victims = retired.map((l) => Number(l.child));
  for (const pid of victims) {
    const exit = logsMatching(daemon, new RegExp(`^child pid ${pid} exited \\(exit code 0\\)$`));
    assert.equal(exit.length, 1, `retired child ${pid} exited on its own`);
  }
  const last = await statusNow(daemon);
  assert.equal(last.processes.length, 2);
  assert.deepEqual(pidsOf(last.processes), childPidsOf(daemon).sort((a, b) => a - b));
  for (const pid of victims) assert.ok(!pidsOf(last.processes).includes(pid));
  // The page showed the count going down, never up.
  assert.deepEqual([...new Set(samples)], [5, 4, 3, 2].filter((n) => samples.includes(n)));
  assert.ok(samples.includes(3) && samples.at(-1) === 2, `samples ${samples.join(',')}`);
  for (const gap of gaps(samples)) assert.ok(gap <= 0, `samples ${samples.join(',')}`);
});

test('a shortage of idle children starts 1, 2, 4, 8 children on successive passes, up to MaxRequestWorkers', async (t) => {
  const gate = await launchGate(t);
  const { daemon } = await launchProxy(
    t,
    [
      'MPM prefork',
      'StartServers 1',
      'MinSpareServers 1',
      'MaxSpareServers 16',
      'ServerLimit 16',
      'MaxRequestWorkers 16',
      `ProxyPass /g/ ${gate.url}/`,
    ],
    { waitChildren: 1 },
  );
  const sampler = sampleProcesses(t, daemon, 300);
  const first = concurrentRequests(daemon.port, Array(16).fill('/g/hold'));
  const full = await daemon.waitLog(
    'the MaxRequestWorkers message',
    (l) => l.msg.startsWith('server reached MaxRequestWorkers setting'),
    20000,
  );
  // Connections beyond MaxRequestWorkers wait in the backlog for a child, through more passes.
  let lateDone = false;
  const late = concurrentRequests(daemon.port, Array(4).fill('/g/hold')).finally(() => (lateDone = true));
  await sleep(1.5 * PASS_MS);
  assert.equal(gate.requests, 16, 'no child was free for the late connections');
  assert.equal(lateDone, false);
  gate.open();
  const answers = [...(await first), ...(await late)];
  const samples = await sampler.stop();

  const spawns = logsMatching(daemon, /spawning \d+ children/);
  assert.deepEqual(
    spawns.map((l) => Number(l.spawn)),
    [1, 2, 4, 8],
    logText(daemon),
  );
  // A pass that finds only children still starting waits for them, keeping the rate.
  for (const gap of gaps(spawns.map(logTime))) assertWholePasses(gap);
  assert.match(spawns[0].msg, /^0 idle children < MinSpareServers 1: spawning 1 children$/);
  assert.match(spawns[3].msg, /^server seems busy, .* spawning 8 children/);
  assert.ok(samples.length >= 2, `samples ${samples.join(',')}`);
  for (const gap of gaps(samples)) assert.ok(gap >= 0, `Processes only grows: ${samples.join(',')}`);
  assert.equal(samples.at(-1), 16);
  assert.equal(childPidsOf(daemon).length, 16);

  assert.equal(full.level, 'error');
  assert.match(full.msg, /^server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting$/);
  assert.equal(logsMatching(daemon, /^server reached MaxRequestWorkers setting/).length, 1, 'said once');
  assert.equal(gate.maxInFlight, 16);
  assert.equal(gate.requests, 20);
  for (const a of answers) assert.equal(a.status, 200);
});
