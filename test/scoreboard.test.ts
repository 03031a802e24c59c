import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SharedMemoryError } from '../src/errors';
import { addU64, defineLayout, i32, loadU64, readFixedUtf8, u64, utf8, writeFixedUtf8 } from '../src/shm/layout';
import {
  headerLayout,
  processLayout,
  Scoreboard,
  SCOREBOARD_MAGIC,
  summarize,
  workerLayout,
  WorkerState,
} from '../src/shm/scoreboard';

/** The three tables of the comment at the top of scoreboard.ts, as offsets and sizes. */
function documentedLayouts(): Map<string, { size: number; offsets: Record<string, number> }> {
  const source = readFileSync(path.join(__dirname, '..', '..', 'src', 'shm', 'scoreboard.ts'), 'utf8');
  const tables = new Map<string, { size: number; offsets: Record<string, number> }>();
  let current: { size: number; offsets: Record<string, number> } | undefined;
  for (const line of source.split('\n')) {
    if (!line.startsWith('//')) continue;
    const heading = /^\/\/\s+(Header|Process slot|Worker slot): (\d+) bytes/.exec(line);
    if (heading) {
      current = { size: Number(heading[2]), offsets: {} };
      tables.set(heading[1]!, current);
      continue;
    }
    const row = /^\/\/\s+\|\s*(\d+)\s*\|\s*\S+\s*\|\s*(\w+)\s*\|/.exec(line);
    if (row && current) current.offsets[row[2]!] = Number(row[1]);
  }
  return tables;
}

test('the layout is the one documented at the top of scoreboard.ts', () => {
  const documented = documentedLayouts();
  assert.deepEqual([...documented.keys()], ['Header', 'Process slot', 'Worker slot']);
  for (const [name, layout] of [
    ['Header', headerLayout],
    ['Process slot', processLayout],
    ['Worker slot', workerLayout],
  ] as const) {
    assert.deepEqual({ size: layout.size, offsets: { ...layout.offsets } }, documented.get(name), name);
  }
  assert.equal(headerLayout.size, 64);
  assert.equal(processLayout.size, 128);
  assert.equal(workerLayout.size, 344);
  assert.equal(workerLayout.offsets.request, 216);
  assert.equal(Scoreboard.byteLength(2, 3), 64 + 2 * 128 + 2 * 3 * 344);
  assert.equal(Scoreboard.byteLength(1, 1), 536);
});

test('defineLayout aligns each field and pads the record', () => {
  const layout = defineLayout({ a: i32, b: u64, c: utf8(3), d: i32 });
  assert.deepEqual(layout.offsets, { a: 0, b: 8, c: 16, d: 20 });
  assert.equal(layout.size, 24);
  assert.equal(defineLayout({ a: i32 }, 64).size, 64);
});

const SERVERS = 3;
const THREADS = 4;

function fill(sb: Scoreboard): void {
  sb.masterPid = 4242;
  sb.generation = 7;
  sb.restartTime = 1_700_000_000_123.5;
  sb.startTime = 1_600_000_000_456.25;
  for (let s = 0; s < SERVERS; s++) {
    sb.claimProcess(s, 1000 + s, 20 + s, THREADS, 1_000 + s * 0.5);
    sb.setAccepting(s, s % 2 === 0);
    sb.setQuiescing(s, s % 2 === 1);
    sb.addConnections(s, 100 + s);
    sb.addKeepAliveIdle(s, 200 + s);
    sb.addBusy(s, 300 + s);
    for (let i = 0; i <= s; i++) sb.incrementConnectionsTotal(s);
    sb.addRequest(s, 2 ** 33 + s); // past 2^32, so the high word is used
    for (let t = 0; t < THREADS; t++) {
      const n = s * THREADS + t;
      sb.setWorkerState(s, t, ((n % 10) + 1) as WorkerState);
      for (let i = 0; i <= n; i++) {
        sb.recordRequest(s, t, {
          client: `10.0.${s}.${t}`,
          vhost: `vhost-${n}.example`,
          request: `GET /slot/${s}/${t} HTTP/1.1`,
          bytes: 1000 + n,
          durationUs: 5000 + n,
          at: 1_650_000_000_000 + n,
        });
      }
    }
  }
}

test('every field of every slot keeps its own value (no overlap, nothing outside)', () => {
  const length = Scoreboard.byteLength(SERVERS, THREADS);
  const buffer = new ArrayBuffer(length + 64);
  const tail = new Uint8Array(buffer, length);
  tail.fill(0xa5);
  const sb = Scoreboard.create(buffer, SERVERS, THREADS);
  fill(sb);

  const again = Scoreboard.attach(buffer);
  for (const board of [sb, again]) {
    assert.equal(board.serverLimit, SERVERS);
    assert.equal(board.threadLimit, THREADS);
    assert.equal(board.masterPid, 4242);
    assert.equal(board.generation, 7);
    assert.equal(board.restartTime, 1_700_000_000_123.5);
    assert.equal(board.startTime, 1_600_000_000_456.25);
    assert.equal(board.retiredConnections, 0);
    assert.equal(board.retiredRequests, 0);
    assert.equal(board.retiredBytes, 0);
    for (let s = 0; s < SERVERS; s++) {
      assert.equal(board.pid(s), 1000 + s);
      assert.equal(board.processGeneration(s), 20 + s);
      assert.equal(board.processStartTime(s), 1_000 + s * 0.5);
      assert.equal(board.isAccepting(s), s % 2 === 0);
      assert.equal(board.isQuiescing(s), s % 2 === 1);
      assert.equal(board.connections(s), 100 + s);
      assert.equal(board.keepAliveIdle(s), 200 + s);
      assert.equal(board.busy(s), 300 + s);
      assert.equal(board.connectionsTotal(s), s + 1);
      assert.equal(board.requestsTotal(s), 1);
      assert.equal(board.bytesTotal(s), 2 ** 33 + s);
      for (let t = 0; t < THREADS; t++) {
        const n = s * THREADS + t;
        assert.equal(board.workerState(s, t), (n % 10) + 1);
        assert.equal(board.accessCount(s, t), n + 1);
        assert.equal(board.bytesServed(s, t), (n + 1) * (1000 + n));
        assert.equal(board.lastUsed(s, t), 1_650_000_000_000 + n);
        assert.equal(board.lastDurationUs(s, t), 5000 + n);
        assert.equal(board.client(s, t), `10.0.${s}.${t}`);
        assert.equal(board.vhost(s, t), `vhost-${n}.example`);
        assert.equal(board.request(s, t), `GET /slot/${s}/${t} HTTP/1.1`);
      }
    }
  }
  assert.ok(tail.every((b) => b === 0xa5), 'nothing written past byteLength');
});

test('claimProcess resets a slot and starts only the first `threads` worker slots', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(SERVERS, THREADS)), SERVERS, THREADS);
  fill(sb);
  sb.releaseProcess(1);
  sb.claimProcess(1, 555, 9, 2, 12345);
  assert.equal(sb.pid(1), 555);
  assert.equal(sb.processGeneration(1), 9);
  assert.equal(sb.processStartTime(1), 12345);
  assert.equal(sb.isAccepting(1), false);
  assert.equal(sb.isQuiescing(1), false);
  for (const read of [sb.connections, sb.keepAliveIdle, sb.busy, sb.connectionsTotal, sb.requestsTotal, sb.bytesTotal]) {
    assert.equal(read.call(sb, 1), 0);
  }
  assert.deepEqual(
    [0, 1, 2, 3].map((t) => sb.workerState(1, t)),
    [WorkerState.STARTING, WorkerState.STARTING, WorkerState.DEAD, WorkerState.DEAD],
  );
  for (let t = 0; t < THREADS; t++) {
    assert.equal(sb.accessCount(1, t), 0);
    assert.equal(sb.bytesServed(1, t), 0);
    assert.equal(sb.lastUsed(1, t), 0);
    assert.equal(sb.lastDurationUs(1, t), 0);
    assert.equal(sb.client(1, t), '');
    assert.equal(sb.vhost(1, t), '');
    assert.equal(sb.request(1, t), '');
  }
  // Its neighbours are untouched.
  assert.equal(sb.pid(0), 1000);
  assert.equal(sb.request(2, 0), 'GET /slot/2/0 HTTP/1.1');
  assert.equal(sb.request(0, 3), 'GET /slot/0/3 HTTP/1.1');
});

test('releaseProcess frees the slot once and keeps its totals in the header', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(SERVERS, THREADS)), SERVERS, THREADS);
  fill(sb);
  sb.releaseProcess(2);
  sb.releaseProcess(2);
  assert.equal(sb.pid(2), 0);
  assert.equal(sb.isAccepting(2), false);
  assert.equal(sb.isQuiescing(2), false);
  for (let t = 0; t < THREADS; t++) assert.equal(sb.workerState(2, t), WorkerState.DEAD);
  assert.equal(sb.retiredConnections, 3);
  assert.equal(sb.retiredRequests, 1);
  assert.equal(sb.retiredBytes, 2 ** 33 + 2);
  const summary = summarize(sb, THREADS);
  assert.equal(summary.totalConnections, 1 + 2 + 3);
  assert.equal(summary.totalAccesses, 3);
  assert.equal(summary.totalBytes, 3 * 2 ** 33 + 0 + 1 + 2);
});

test('freeProcessSlot and processSlotOfPid', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(SERVERS, THREADS)), SERVERS, THREADS);
  assert.equal(sb.freeProcessSlot(), 0);
  assert.equal(sb.processSlotOfPid(0), -1);
  sb.claimProcess(0, 11, 1);
  sb.claimProcess(1, 12, 1);
  assert.equal(sb.freeProcessSlot(), 2);
  sb.claimProcess(2, 13, 1);
  assert.equal(sb.freeProcessSlot(), -1);
  assert.equal(sb.processSlotOfPid(12), 1);
  assert.equal(sb.processSlotOfPid(99), -1);
  sb.releaseProcess(1);
  assert.equal(sb.freeProcessSlot(), 1);
  assert.equal(sb.processSlotOfPid(12), -1);
});

test('slot and thread indexes outside the limits throw instead of writing elsewhere', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(SERVERS, THREADS)), SERVERS, THREADS);
  assert.throws(() => sb.addConnections(SERVERS, 1), RangeError);
  assert.throws(() => sb.addConnections(-1, 1), RangeError);
  assert.throws(() => sb.pid(1.5), RangeError);
  assert.throws(() => sb.setWorkerState(0, THREADS, WorkerState.READY), RangeError);
  assert.throws(() => sb.workerState(SERVERS, 0), RangeError);
  assert.throws(() => sb.claimProcess(0, 1, 1, THREADS + 1), RangeError);
  assert.throws(() => Scoreboard.byteLength(0, 1), RangeError);
  assert.throws(() => summarize(sb, THREADS + 1), RangeError);
});

test('create refuses a buffer that is too small', () => {
  assert.throws(
    () => Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(2, 2) - 8), 2, 2),
    (e: unknown) => e instanceof SharedMemoryError && e.code === 'MPM_ERR_SHM' && /needs 1696 bytes/.test(e.message),
  );
});

test('attach checks magic, version and sizes', () => {
  const make = (): ArrayBuffer => {
    const buffer = new ArrayBuffer(Scoreboard.byteLength(2, 2));
    Scoreboard.create(buffer, 2, 2);
    return buffer;
  };
  const isShm = (pattern: RegExp) => (e: unknown) => e instanceof SharedMemoryError && pattern.test(e.message);

  const attached = Scoreboard.attach(make(), { serverLimit: 2, threadLimit: 2 });
  assert.equal(attached.serverLimit, 2);
  assert.equal(attached.threadLimit, 2);

  assert.throws(() => Scoreboard.attach(new ArrayBuffer(Scoreboard.byteLength(2, 2))), isShm(/not a scoreboard: magic 0x0, expected 0x4253504d/));

  const wrongMagic = make();
  new Int32Array(wrongMagic)[0] = SCOREBOARD_MAGIC ^ 1;
  assert.throws(() => Scoreboard.attach(wrongMagic), isShm(/not a scoreboard/));

  const wrongVersion = make();
  new Int32Array(wrongVersion)[1] = 99;
  assert.throws(() => Scoreboard.attach(wrongVersion), isShm(/layout version 99 is not the version 3/));

  assert.throws(() => Scoreboard.attach(make(), { serverLimit: 3 }), isShm(/created with ServerLimit 2, the configuration asks for 3/));
  assert.throws(() => Scoreboard.attach(make(), { threadLimit: 4 }), isShm(/created with ThreadLimit 2, the configuration asks for 4/));

  const lying = make();
  new Int32Array(lying)[2] = 50; // header claims 50 process slots the segment cannot hold
  assert.throws(() => Scoreboard.attach(lying), isShm(/ServerLimit 50 × ThreadLimit 2 .* the segment has only 1696/));

  assert.throws(() => Scoreboard.attach(new ArrayBuffer(16)), isShm(/too small to hold a scoreboard header/));
});

test('u64 counters carry into the high word and survive 2^32', () => {
  const words = new Int32Array(2);
  addU64(words, 0, 0xffff_fff0);
  assert.equal(loadU64(words, 0), 0xffff_fff0);
  addU64(words, 0, 0x20);
  assert.equal(loadU64(words, 0), 0x1_0000_0010);
  assert.deepEqual([...words], [0x10, 1]);
  addU64(words, 0, 3 * 2 ** 32 + 5);
  assert.equal(loadU64(words, 0), 4 * 2 ** 32 + 0x15);
  addU64(words, 0, 2 ** 40);
  assert.equal(loadU64(words, 0), 2 ** 40 + 4 * 2 ** 32 + 0x15);
});

test('fixed UTF-8 fields cut at a character boundary', () => {
  const bytes = new Uint8Array(16).fill(0xff);
  const write = (value: string, size: number): [number, string] => {
    bytes.fill(0xff);
    const n = writeFixedUtf8(bytes, 2, size, value);
    assert.equal(bytes[0], 0xff, 'nothing written before the field');
    assert.equal(bytes[2 + size], 0xff, 'nothing written after the field');
    assert.ok(bytes.subarray(2 + n, 2 + size).every((b) => b === 0), 'the rest is NUL');
    return [n, readFixedUtf8(bytes, 2, size)];
  };
  assert.deepEqual(write('abcdef', 6), [6, 'abcdef']);
  assert.deepEqual(write('abcdefg', 6), [6, 'abcdef']);
  assert.deepEqual(write('abcdé', 6), [6, 'abcdé']); // é is 2 bytes and fits exactly
  assert.deepEqual(write('abcdeé', 6), [5, 'abcde']); // é would need bytes 6 and 7
  assert.deepEqual(write('ab€', 4), [2, 'ab']); // € is 3 bytes
  assert.deepEqual(write('a😀b', 5), [5, 'a😀']); // a surrogate pair is one 4-byte character
  assert.deepEqual(write('a😀', 4), [1, 'a']);
  assert.deepEqual(write('a\ud800b', 8), [5, 'a\ufffdb']); // lone surrogate
  assert.deepEqual(write('', 4), [0, '']);
  assert.equal(Buffer.from(bytes.subarray(2, 7)).toString('hex'), '00000000ff');
});

test('request and client strings are truncated at their field sizes, on a UTF-8 boundary', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(1, 2)), 1, 2);
  sb.claimProcess(0, 1, 1);
  const request = 'GET /' + 'x'.repeat(121) + 'ééé HTTP/1.1'; // é starts at byte 126
  sb.recordRequest(0, 0, { client: '€'.repeat(17), request, bytes: 1, durationUs: 1, at: 1 });
  assert.equal(sb.request(0, 0), 'GET /' + 'x'.repeat(121) + 'é');
  assert.equal(Buffer.byteLength(sb.request(0, 0)), 128);
  assert.equal(sb.client(0, 0), '€'.repeat(16)); // 48 bytes
  // A shorter string replaces a longer one completely.
  sb.recordRequest(0, 0, { client: '::1', request: 'GET / HTTP/1.0', bytes: 1, durationUs: 1, at: 1 });
  assert.equal(sb.request(0, 0), 'GET / HTTP/1.0');
  assert.equal(sb.client(0, 0), '::1');
  assert.equal(sb.request(0, 1), '');
});

test('summarize counts busy, idle and quiescing and draws the scoreboard', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(4, 6)), 4, 6);
  const S = WorkerState;
  // slot 0: current generation, accepting
  sb.claimProcess(0, 100, 2, 4);
  [S.READY, S.BUSY_WRITE, S.READY, S.BUSY_KEEPALIVE].forEach((st, t) => sb.setWorkerState(0, t, st));
  sb.setAccepting(0, true);
  sb.addConnections(0, 5);
  sb.addKeepAliveIdle(0, 2);
  sb.addBusy(0, 1);
  // slot 1: free
  // slot 2: old generation, quiescing: its READY slots are not idle workers
  sb.claimProcess(2, 300, 1, 4);
  [S.GRACEFUL, S.READY, S.BUSY_READ, S.CLOSING].forEach((st, t) => sb.setWorkerState(2, t, st));
  sb.setQuiescing(2, true);
  sb.addConnections(2, 2);
  // slot 3: starting up, plus a slot beyond threadsPerChild that is not counted
  sb.claimProcess(3, 400, 2, 4);
  sb.setWorkerState(3, 1, S.BUSY_LOG);
  sb.setWorkerState(3, 2, S.IDLE_KILL);
  sb.setWorkerState(3, 3, S.BUSY_DNS);
  sb.setWorkerState(3, 4, S.BUSY_WRITE);

  const s = summarize(sb, 4);
  assert.equal(s.scoreboard, '_W_K' + '....' + 'G_RC' + 'SLID');
  assert.equal(s.processes, 3);
  assert.equal(s.quiescingProcesses, 1);
  assert.equal(s.acceptingProcesses, 1);
  assert.equal(s.idleWorkers, 2);
  assert.equal(s.busyWorkers, 2 + 3 + 2); // W K, G R C, L D
  assert.equal(s.openConnections, 7);
  assert.equal(s.keepAliveIdle, 2);
  assert.equal(s.busySlots, 1);
  const counts: Record<string, number> = {};
  for (const [name, value] of Object.entries(WorkerState)) counts[name] = s.stateCounts[value];
  assert.deepEqual(counts, {
    DEAD: 4,
    STARTING: 1,
    READY: 3,
    BUSY_READ: 1,
    BUSY_WRITE: 1,
    BUSY_KEEPALIVE: 1,
    BUSY_LOG: 1,
    BUSY_DNS: 1,
    CLOSING: 1,
    GRACEFUL: 1,
    IDLE_KILL: 1,
  });
  assert.equal(summarize(sb, 6).scoreboard, '_W_K..' + '......' + 'G_RC..' + 'SLIDW.');
});

test('counters are atomic across threads sharing the memory', async () => {
  const THREAD_COUNT = 4;
  const ITERATIONS = 100_000;
  const RECORDS = 10_000;
  const memory = new SharedArrayBuffer(Scoreboard.byteLength(2, THREAD_COUNT));
  const sb = Scoreboard.create(memory, 2, THREAD_COUNT);
  sb.claimProcess(1, 77, 1);
  const gate = new Int32Array(new SharedArrayBuffer(8)); // [ready count, go]
  const modulePath = path.join(__dirname, '..', 'src', 'shm', 'scoreboard.js');
  const code = `
    const { workerData: d } = require('node:worker_threads');
    const { Scoreboard } = require(${JSON.stringify(modulePath)});
    const sb = Scoreboard.attach(d.memory);
    Atomics.add(d.gate, 0, 1);
    Atomics.wait(d.gate, 1, 0);
    for (let i = 0; i < ${ITERATIONS}; i++) {
      sb.addConnections(1, 1);
      sb.incrementConnectionsTotal(1);
      sb.addRequest(1, 50000);
      sb.addBusy(1, 1);
      sb.addBusy(1, -1);
    }
    const record = { client: '127.0.0.' + d.index, request: 'GET /' + d.index, bytes: 3, durationUs: 1, at: 1 };
    for (let i = 0; i < ${RECORDS}; i++) sb.recordRequest(1, d.index, record);
  `;
  const workers = Array.from(
    { length: THREAD_COUNT },
    (_, index) => new Worker(code, { eval: true, workerData: { memory, gate, index } }),
  );
  const exited = workers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        w.once('error', reject);
        w.once('exit', (exitCode) => (exitCode === 0 ? resolve() : reject(new Error(`worker exited ${exitCode}`))));
      }),
  );
  while (Atomics.load(gate, 0) < THREAD_COUNT) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(gate, 1, 1);
  Atomics.notify(gate, 1);
  await Promise.all(exited);

  assert.equal(sb.connections(1), THREAD_COUNT * ITERATIONS);
  assert.equal(sb.connectionsTotal(1), THREAD_COUNT * ITERATIONS);
  assert.equal(sb.requestsTotal(1), THREAD_COUNT * ITERATIONS);
  assert.equal(sb.bytesTotal(1), THREAD_COUNT * ITERATIONS * 50_000); // 2e10: the carry raced too
  assert.equal(sb.busy(1), 0);
  for (let t = 0; t < THREAD_COUNT; t++) {
    assert.equal(sb.accessCount(1, t), RECORDS);
    assert.equal(sb.bytesServed(1, t), RECORDS * 3);
    assert.equal(sb.client(1, t), `127.0.0.${t}`);
  }
  assert.equal(sb.pid(0), 0, 'the neighbouring process slot is untouched');
});
