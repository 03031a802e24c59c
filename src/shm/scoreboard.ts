// The scoreboard: Apache's shared table of process slots and worker slots, in one
// shared-memory segment that the master creates and every child maps.
//
// Byte layout, little-endian, offsets in bytes; a u64 is a low int32 word then a high
// one (see layout.ts). A test checks these tables against the code.
//
//   Header: 64 bytes at 0.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | magic              | 'MPSB'; written last by create         |
//   |   4 | i32       | version            | layout version                         |
//   |   8 | i32       | serverLimit        | process slots                          |
//   |  12 | i32       | threadLimit        | worker slots per process slot          |
//   |  16 | i32       | masterPid          |                                        |
//   |  20 | i32       | generation         | master, incremented at each restart    |
//   |  24 | f64       | restartTime        | ms since the epoch                     |
//   |  32 | f64       | startTime          | ms since the epoch                     |
//   |  40 | u64       | retiredConnections | totals of released process slots       |
//   |  48 | u64       | retiredRequests    |                                        |
//   |  56 | u64       | retiredBytes       |                                        |
//
//   Process slot: 128 bytes (two cache lines), serverLimit of them at 64.
//   | off | type      | field              | notes                                  |
//   |   0 | f64       | startTime          | ms since the epoch                     |
//   |   8 | u64       | connectionsTotal   | accepted since the child started       |
//   |  16 | u64       | requestsTotal      |                                        |
//   |  24 | u64       | bytesTotal         |                                        |
//   |  32 | i32       | pid                | 0 = free slot                          |
//   |  36 | i32       | generation         | the child's configuration generation   |
//   |  40 | i32       | accepting          | 0/1                                    |
//   |  44 | i32       | quiescing          | 0/1                                    |
//   |  48 | i32       | connections        | open now                               |
//   |  52 | i32       | keepAliveIdle      | idle in keep-alive now                 |
//   |  56 | i32       | busy               | request slots busy now                 |
//   |  60 | i32       | stateAware         | state-aware sessions it owns now       |
//   |  64 | i32       | webSockets         | WebSocket tunnels open now             |
//   |  68 |           | (padding)          |                                        |
//
//   Worker slot: 344 bytes, serverLimit × threadLimit of them at 64 + serverLimit × 128;
//   worker t of process slot p is number p × threadLimit + t.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | state              | WorkerState                            |
//   |   4 |           | (padding)          |                                        |
//   |   8 | u64       | accessCount        | requests served                        |
//   |  16 | u64       | bytesServed        |                                        |
//   |  24 | f64       | lastUsed           | start of the last request, ms          |
//   |  32 | f64       | lastDurationUs     | microseconds                           |
//   |  40 | utf8[48]  | client             | NUL-padded                             |
//   |  88 | utf8[128] | vhost              | NUL-padded                             |
//   | 216 | utf8[128] | request            | request line, NUL-padded               |
//
// Only a process slot's child (all its threads) writes its counters, and only the owning
// thread writes a worker slot; the master writes the header and claims and releases slots.
// Every int32 and u64 goes through Atomics. An f64 has a single writer and an aligned
// 8-byte store is not torn on the 64-bit targets Node supports. Strings are written
// byte by byte without a lock, as in Apache: a reader racing a writer can see the old
// and new string mixed (decoded with U+FFFD where a character is split), never more.

import { SharedMemoryError } from '../errors';
import { addU64, defineLayout, elementIndexes, f64, i32, loadU64, readFixedUtf8, storeU64, u64, utf8, writeFixedUtf8 } from './layout';

/** Apache's worker states (scoreboard.h numbering). */
export const WorkerState = {
  DEAD: 0,
  STARTING: 1,
  READY: 2,
  BUSY_READ: 3,
  BUSY_WRITE: 4,
  BUSY_KEEPALIVE: 5,
  BUSY_LOG: 6,
  BUSY_DNS: 7,
  CLOSING: 8,
  GRACEFUL: 9,
  IDLE_KILL: 10,
} as const;
export type WorkerState = (typeof WorkerState)[keyof typeof WorkerState];

/** Apache's status character of each state, indexed by state. */
export const STATE_CHARS = '.S_RWKLDCGI';
export const WORKER_STATE_COUNT = STATE_CHARS.length;

export function stateChar(state: number): string {
  return STATE_CHARS[state] ?? '?';
}

/** 'MPSB' read as a little-endian int32. */
export const SCOREBOARD_MAGIC = 0x4253504d;
export const SCOREBOARD_VERSION = 3;
export const CLIENT_BYTES = 48;
export const VHOST_BYTES = 128;
export const REQUEST_BYTES = 128;

export const headerLayout = defineLayout(
  {
    magic: i32,
    version: i32,
    serverLimit: i32,
    threadLimit: i32,
    masterPid: i32,
    generation: i32,
    restartTime: f64,
    startTime: f64,
    retiredConnections: u64,
    retiredRequests: u64,
    retiredBytes: u64,
  },
  64, // so that each process slot, which its child writes constantly, owns a cache line
);

export const processLayout = defineLayout({
  startTime: f64,
  connectionsTotal: u64,
  requestsTotal: u64,
  bytesTotal: u64,
  pid: i32,
  generation: i32,
  accepting: i32,
  quiescing: i32,
  connections: i32,
  keepAliveIdle: i32,
  busy: i32,
  stateAware: i32,
  webSockets: i32,
}, 64); // a whole number of cache lines, so that no two children write the same line

export const workerLayout = defineLayout({
  state: i32,
  accessCount: u64,
  bytesServed: u64,
  lastUsed: f64,
  lastDurationUs: f64,
  client: utf8(CLIENT_BYTES),
  vhost: utf8(VHOST_BYTES),
  request: utf8(REQUEST_BYTES),
});

// Indexes of each field in the Int32Array (i32, u64) and Float64Array (f64) views.
const HI = elementIndexes(headerLayout, 4);
const HF = elementIndexes(headerLayout, 8);
const PI = elementIndexes(processLayout, 4);
const PF = elementIndexes(processLayout, 8);
const WI = elementIndexes(workerLayout, 4);
const WF = elementIndexes(workerLayout, 8);
const W = workerLayout.offsets;

/** What one finished request leaves in its worker slot. */
export interface RequestRecord {
  client: string;
  /** The request line, e.g. 'GET /index.html HTTP/1.1'. */
  request: string;
  vhost?: string;
  bytes: number;
  durationUs: number;
  /** When the request started, ms since the epoch. */
  at: number;
}

export interface AttachExpectation {
  serverLimit?: number;
  threadLimit?: number;
}

export class Scoreboard {
  readonly serverLimit: number;
  readonly threadLimit: number;
  private readonly words: Int32Array;
  private readonly doubles: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly workersAt: number;

  static byteLength(serverLimit: number, threadLimit: number): number {
    checkLimit('serverLimit', serverLimit);
    checkLimit('threadLimit', threadLimit);
    return headerLayout.size + serverLimit * (processLayout.size + threadLimit * workerLayout.size);
  }

  /** Initialises a scoreboard over `buffer`, zeroing it: every slot free, generation 0. */
  static create(buffer: ArrayBufferLike, serverLimit: number, threadLimit: number): Scoreboard {
    const needed = Scoreboard.byteLength(serverLimit, threadLimit);
    if (buffer.byteLength < needed) {
      throw new SharedMemoryError(
        `scoreboard needs ${needed} bytes for ServerLimit ${serverLimit} × ThreadLimit ${threadLimit}, ` +
          `the segment has ${buffer.byteLength}`,
      );
    }
    new Uint8Array(buffer, 0, needed).fill(0);
    const words = new Int32Array(buffer, 0, headerLayout.size >> 2);
    Atomics.store(words, HI.version, SCOREBOARD_VERSION);
    Atomics.store(words, HI.serverLimit, serverLimit);
    Atomics.store(words, HI.threadLimit, threadLimit);
    // Magic last: a process attaching mid-create sees no magic rather than half a header.
    Atomics.store(words, HI.magic, SCOREBOARD_MAGIC);
    return new Scoreboard(buffer, serverLimit, threadLimit);
  }

  /** Opens a scoreboard that another process created; checks that it is one, of this
   * layout version, and (when given) of the expected sizes. */
  static attach(buffer: ArrayBufferLike, expect: AttachExpectation = {}): Scoreboard {
    if (buffer.byteLength < headerLayout.size) {
      throw new SharedMemoryError(
        `segment of ${buffer.byteLength} bytes is too small to hold a scoreboard header (${headerLayout.size})`,
      );
    }
    const words = new Int32Array(buffer, 0, headerLayout.size >> 2);
    const magic = Atomics.load(words, HI.magic);
    if (magic !== SCOREBOARD_MAGIC) {
      throw new SharedMemoryError(
        `segment is not a scoreboard: magic 0x${(magic >>> 0).toString(16)}, expected 0x${SCOREBOARD_MAGIC.toString(16)}`,
      );
    }
    const version = Atomics.load(words, HI.version);
    if (version !== SCOREBOARD_VERSION) {
      throw new SharedMemoryError(
        `scoreboard layout version ${version} is not the version ${SCOREBOARD_VERSION} this build uses; ` +
          'stop every mpmproxy process using it and start again',
      );
    }
    const serverLimit = Atomics.load(words, HI.serverLimit);
    const threadLimit = Atomics.load(words, HI.threadLimit);
    for (const [name, have, want] of [
      ['ServerLimit', serverLimit, expect.serverLimit],
      ['ThreadLimit', threadLimit, expect.threadLimit],
    ] as const) {
      if (want !== undefined && have !== want) {
        throw new SharedMemoryError(
          `scoreboard was created with ${name} ${have}, the configuration asks for ${want}; ` +
            `${name} changes need a full stop and start`,
        );
      }
    }
    const needed = Scoreboard.byteLength(serverLimit, threadLimit);
    if (buffer.byteLength < needed) {
      throw new SharedMemoryError(
        `scoreboard header says ServerLimit ${serverLimit} × ThreadLimit ${threadLimit} (${needed} bytes), ` +
          `the segment has only ${buffer.byteLength}`,
      );
    }
    return new Scoreboard(buffer, serverLimit, threadLimit);
  }

  private constructor(buffer: ArrayBufferLike, serverLimit: number, threadLimit: number) {
    const length = Scoreboard.byteLength(serverLimit, threadLimit);
    this.serverLimit = serverLimit;
    this.threadLimit = threadLimit;
    this.words = new Int32Array(buffer, 0, length >> 2);
    this.doubles = new Float64Array(buffer, 0, length >> 3);
    this.bytes = new Uint8Array(buffer, 0, length);
    this.workersAt = headerLayout.size + serverLimit * processLayout.size;
  }

  // Header

  get masterPid(): number {
    return Atomics.load(this.words, HI.masterPid);
  }
  set masterPid(pid: number) {
    Atomics.store(this.words, HI.masterPid, pid);
  }
  get generation(): number {
    return Atomics.load(this.words, HI.generation);
  }
  set generation(generation: number) {
    Atomics.store(this.words, HI.generation, generation);
  }
  get restartTime(): number {
    return this.doubles[HF.restartTime];
  }
  set restartTime(ms: number) {
    this.doubles[HF.restartTime] = ms;
  }
  get startTime(): number {
    return this.doubles[HF.startTime];
  }
  set startTime(ms: number) {
    this.doubles[HF.startTime] = ms;
  }
  /** Totals of processes whose slots were released, so server totals never go back. */
  get retiredConnections(): number {
    return loadU64(this.words, HI.retiredConnections);
  }
  get retiredRequests(): number {
    return loadU64(this.words, HI.retiredRequests);
  }
  get retiredBytes(): number {
    return loadU64(this.words, HI.retiredBytes);
  }

  // Process slots

  /**
   * Gives a free slot to a new child (the master does this, and only the master, so no
   * two claims race). Counters restart from zero; the first `threads` worker slots become
   * STARTING and the rest DEAD. The pid is stored last, so a reader that sees it sees
   * a clean slot.
   */
  claimProcess(
    slot: number,
    pid: number,
    generation: number,
    threads: number = this.threadLimit,
    startTime: number = Date.now(),
  ): void {
    const p = this.processWord(slot);
    if (!Number.isInteger(threads) || threads < 0 || threads > this.threadLimit) {
      throw new RangeError(`threads ${threads} is outside 0..ThreadLimit (${this.threadLimit})`);
    }
    const w = this.words;
    this.doubles[(p >> 1) + PF.startTime] = startTime;
    storeU64(w, p + PI.connectionsTotal, 0);
    storeU64(w, p + PI.requestsTotal, 0);
    storeU64(w, p + PI.bytesTotal, 0);
    Atomics.store(w, p + PI.generation, generation);
    Atomics.store(w, p + PI.accepting, 0);
    Atomics.store(w, p + PI.quiescing, 0);
    Atomics.store(w, p + PI.connections, 0);
    Atomics.store(w, p + PI.keepAliveIdle, 0);
    Atomics.store(w, p + PI.busy, 0);
    Atomics.store(w, p + PI.stateAware, 0);
    Atomics.store(w, p + PI.webSockets, 0);
    for (let t = 0; t < this.threadLimit; t++) {
      this.resetWorker(slot, t, t < threads ? WorkerState.STARTING : WorkerState.DEAD);
    }
    Atomics.store(w, p + PI.pid, pid);
  }

  /**
   * Frees a slot after its child exited: pid 0, every worker slot DEAD, and the child's
   * totals moved into the header. Releasing a free slot does nothing, so a double
   * release cannot count a child twice. The counters stay readable until the next claim.
   */
  releaseProcess(slot: number): void {
    const p = this.processWord(slot);
    const w = this.words;
    if (Atomics.exchange(w, p + PI.pid, 0) === 0) return;
    Atomics.store(w, p + PI.accepting, 0);
    Atomics.store(w, p + PI.quiescing, 0);
    for (let t = 0; t < this.threadLimit; t++) {
      Atomics.store(w, this.workerWord(slot, t) + WI.state, WorkerState.DEAD);
    }
    addU64(w, HI.retiredConnections, loadU64(w, p + PI.connectionsTotal));
    addU64(w, HI.retiredRequests, loadU64(w, p + PI.requestsTotal));
    addU64(w, HI.retiredBytes, loadU64(w, p + PI.bytesTotal));
  }

  /** The lowest free process slot, or -1 when all ServerLimit slots are taken. */
  freeProcessSlot(): number {
    for (let slot = 0; slot < this.serverLimit; slot++) {
      if (Atomics.load(this.words, this.processWord(slot) + PI.pid) === 0) return slot;
    }
    return -1;
  }

  processSlotOfPid(pid: number): number {
    if (pid === 0) return -1;
    for (let slot = 0; slot < this.serverLimit; slot++) {
      if (Atomics.load(this.words, this.processWord(slot) + PI.pid) === pid) return slot;
    }
    return -1;
  }

  setAccepting(slot: number, accepting: boolean): void {
    Atomics.store(this.words, this.processWord(slot) + PI.accepting, accepting ? 1 : 0);
  }

  /** Apache's quiescing: finishing what it serves, accepting nothing new. */
  setQuiescing(slot: number, quiescing: boolean): void {
    Atomics.store(this.words, this.processWord(slot) + PI.quiescing, quiescing ? 1 : 0);
  }

  /** 0 when the slot is free. */
  pid(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.pid);
  }
  processGeneration(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.generation);
  }
  isAccepting(slot: number): boolean {
    return Atomics.load(this.words, this.processWord(slot) + PI.accepting) !== 0;
  }
  isQuiescing(slot: number): boolean {
    return Atomics.load(this.words, this.processWord(slot) + PI.quiescing) !== 0;
  }
  processStartTime(slot: number): number {
    return this.doubles[(this.processWord(slot) >> 1) + PF.startTime];
  }
  /** Client connections open right now. */
  connections(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.connections);
  }
  /** Connections idle in keep-alive right now. */
  keepAliveIdle(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.keepAliveIdle);
  }
  /** Request slots busy right now. */
  busy(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.busy);
  }
  /** State-aware sessions whose private backend connection it holds (src/stateaware/). */
  stateAwareSessions(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.stateAware);
  }
  connectionsTotal(slot: number): number {
    return loadU64(this.words, this.processWord(slot) + PI.connectionsTotal);
  }
  requestsTotal(slot: number): number {
    return loadU64(this.words, this.processWord(slot) + PI.requestsTotal);
  }
  bytesTotal(slot: number): number {
    return loadU64(this.words, this.processWord(slot) + PI.bytesTotal);
  }

  addConnections(slot: number, delta: number): void {
    Atomics.add(this.words, this.processWord(slot) + PI.connections, delta);
  }
  /** WebSocket tunnels open right now. */
  webSockets(slot: number): number {
    return Atomics.load(this.words, this.processWord(slot) + PI.webSockets);
  }

  addWebSockets(slot: number, delta: number): void {
    Atomics.add(this.words, this.processWord(slot) + PI.webSockets, delta);
  }

  addKeepAliveIdle(slot: number, delta: number): void {
    Atomics.add(this.words, this.processWord(slot) + PI.keepAliveIdle, delta);
  }
  addBusy(slot: number, delta: number): void {
    Atomics.add(this.words, this.processWord(slot) + PI.busy, delta);
  }
  addStateAwareSessions(slot: number, delta: number): void {
    Atomics.add(this.words, this.processWord(slot) + PI.stateAware, delta);
  }
  incrementConnectionsTotal(slot: number): void {
    addU64(this.words, this.processWord(slot) + PI.connectionsTotal, 1);
  }
  /** Counts one request of `bytes` in the process totals (recordRequest does not). */
  addRequest(slot: number, bytes: number): void {
    const p = this.processWord(slot);
    addU64(this.words, p + PI.requestsTotal, 1);
    addU64(this.words, p + PI.bytesTotal, bytes);
  }

  // Worker slots

  setWorkerState(slot: number, thread: number, state: WorkerState): void {
    Atomics.store(this.words, this.workerWord(slot, thread) + WI.state, state);
  }
  workerState(slot: number, thread: number): WorkerState {
    return Atomics.load(this.words, this.workerWord(slot, thread) + WI.state) as WorkerState;
  }

  /** Leaves a finished request in its worker slot; the process totals are addRequest's. */
  recordRequest(slot: number, thread: number, record: RequestRecord): void {
    const w = this.workerWord(slot, thread);
    const at = w << 2;
    addU64(this.words, w + WI.accessCount, 1);
    addU64(this.words, w + WI.bytesServed, record.bytes);
    this.doubles[(w >> 1) + WF.lastUsed] = record.at;
    this.doubles[(w >> 1) + WF.lastDurationUs] = record.durationUs;
    writeFixedUtf8(this.bytes, at + W.client, CLIENT_BYTES, record.client);
    writeFixedUtf8(this.bytes, at + W.vhost, VHOST_BYTES, record.vhost ?? '');
    writeFixedUtf8(this.bytes, at + W.request, REQUEST_BYTES, record.request);
  }

  accessCount(slot: number, thread: number): number {
    return loadU64(this.words, this.workerWord(slot, thread) + WI.accessCount);
  }
  bytesServed(slot: number, thread: number): number {
    return loadU64(this.words, this.workerWord(slot, thread) + WI.bytesServed);
  }
  /** When the slot's last request started, ms since the epoch; 0 if it served none. */
  lastUsed(slot: number, thread: number): number {
    return this.doubles[(this.workerWord(slot, thread) >> 1) + WF.lastUsed];
  }
  lastDurationUs(slot: number, thread: number): number {
    return this.doubles[(this.workerWord(slot, thread) >> 1) + WF.lastDurationUs];
  }
  client(slot: number, thread: number): string {
    return readFixedUtf8(this.bytes, (this.workerWord(slot, thread) << 2) + W.client, CLIENT_BYTES);
  }
  vhost(slot: number, thread: number): string {
    return readFixedUtf8(this.bytes, (this.workerWord(slot, thread) << 2) + W.vhost, VHOST_BYTES);
  }
  request(slot: number, thread: number): string {
    return readFixedUtf8(this.bytes, (this.workerWord(slot, thread) << 2) + W.request, REQUEST_BYTES);
  }

  private resetWorker(slot: number, thread: number, state: WorkerState): void {
    const w = this.workerWord(slot, thread);
    storeU64(this.words, w + WI.accessCount, 0);
    storeU64(this.words, w + WI.bytesServed, 0);
    this.doubles[(w >> 1) + WF.lastUsed] = 0;
    this.doubles[(w >> 1) + WF.lastDurationUs] = 0;
    this.bytes.fill(0, (w << 2) + W.client, (w << 2) + workerLayout.size);
    Atomics.store(this.words, w + WI.state, state);
  }

  /** Int32 index of a process slot; every record is 8-byte aligned, so >> 1 gives its f64 index. */
  private processWord(slot: number): number {
    if (slot >>> 0 !== slot || slot >= this.serverLimit) {
      throw new RangeError(`process slot ${slot} is outside 0..${this.serverLimit - 1}`);
    }
    return (headerLayout.size + slot * processLayout.size) >> 2;
  }

  private workerWord(slot: number, thread: number): number {
    if (slot >>> 0 !== slot || slot >= this.serverLimit || thread >>> 0 !== thread || thread >= this.threadLimit) {
      throw new RangeError(
        `worker slot ${slot}/${thread} is outside ${this.serverLimit} processes × ${this.threadLimit} threads`,
      );
    }
    return (this.workersAt + (slot * this.threadLimit + thread) * workerLayout.size) >> 2;
  }
}

function checkLimit(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** What the maintenance loop and server-status need, counted over the first
 * `threadsPerChild` worker slots of each process, as Apache's maintenance loop does. */
export interface ScoreboardSummary {
  /** Live processes (pid ≠ 0). */
  processes: number;
  quiescingProcesses: number;
  acceptingProcesses: number;
  /** Worker slots of live processes in a busy state (R W K L D C G), as mod_status counts. */
  busyWorkers: number;
  /** READY worker slots of live processes that are not quiescing. */
  idleWorkers: number;
  /** How many characters of `scoreboard` show each state, indexed by WorkerState. */
  stateCounts: number[];
  /** One character per worker slot, serverLimit × threadsPerChild; '.' for every slot of a
   * free process slot. */
  scoreboard: string;
  openConnections: number;
  keepAliveIdle: number;
  busySlots: number;
  /** State-aware sessions owned by live processes, and how many processes own one. */
  stateAwareSessions: number;
  owningProcesses: number;
  /** WebSocket tunnels open now. */
  webSockets: number;
  /** Since the scoreboard was created, including released processes. */
  totalConnections: number;
  totalAccesses: number;
  totalBytes: number;
}

export function summarize(scoreboard: Scoreboard, threadsPerChild: number): ScoreboardSummary {
  if (!Number.isInteger(threadsPerChild) || threadsPerChild < 1 || threadsPerChild > scoreboard.threadLimit) {
    throw new RangeError(`threadsPerChild ${threadsPerChild} is outside 1..ThreadLimit (${scoreboard.threadLimit})`);
  }
  const summary: ScoreboardSummary = {
    processes: 0,
    quiescingProcesses: 0,
    acceptingProcesses: 0,
    busyWorkers: 0,
    idleWorkers: 0,
    stateCounts: new Array<number>(WORKER_STATE_COUNT).fill(0),
    scoreboard: '',
    openConnections: 0,
    keepAliveIdle: 0,
    busySlots: 0,
    stateAwareSessions: 0,
    owningProcesses: 0,
    webSockets: 0,
    totalConnections: scoreboard.retiredConnections,
    totalAccesses: scoreboard.retiredRequests,
    totalBytes: scoreboard.retiredBytes,
  };
  const chars: string[] = [];
  for (let slot = 0; slot < scoreboard.serverLimit; slot++) {
    if (scoreboard.pid(slot) === 0) {
      summary.stateCounts[WorkerState.DEAD] += threadsPerChild;
      chars.push('.'.repeat(threadsPerChild));
      continue;
    }
    const quiescing = scoreboard.isQuiescing(slot);
    summary.processes++;
    if (quiescing) summary.quiescingProcesses++;
    if (scoreboard.isAccepting(slot)) summary.acceptingProcesses++;
    summary.openConnections += scoreboard.connections(slot);
    summary.keepAliveIdle += scoreboard.keepAliveIdle(slot);
    summary.busySlots += scoreboard.busy(slot);
    const owned = scoreboard.stateAwareSessions(slot);
    summary.stateAwareSessions += owned;
    if (owned > 0) summary.owningProcesses++;
    summary.webSockets += scoreboard.webSockets(slot);
    summary.totalConnections += scoreboard.connectionsTotal(slot);
    summary.totalAccesses += scoreboard.requestsTotal(slot);
    summary.totalBytes += scoreboard.bytesTotal(slot);
    for (let thread = 0; thread < threadsPerChild; thread++) {
      const state = scoreboard.workerState(slot, thread);
      if (state === WorkerState.READY) {
        if (!quiescing) summary.idleWorkers++;
      } else if (isBusy(state)) {
        summary.busyWorkers++;
      }
      if (state < WORKER_STATE_COUNT) summary.stateCounts[state]++;
      chars.push(stateChar(state));
    }
  }
  summary.scoreboard = chars.join('');
  return summary;
}

function isBusy(state: WorkerState): boolean {
  return (
    state !== WorkerState.DEAD &&
    state !== WorkerState.STARTING &&
    state !== WorkerState.READY &&
    state !== WorkerState.IDLE_KILL &&
    state < WORKER_STATE_COUNT
  );
}
