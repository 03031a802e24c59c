// Reads a V8 CPU profile (what `node --cpu-prof` writes) and tells where the time went: self
// time per function and per group of code (Node's HTTP server and llhttp, undici, each module
// of ours, garbage collection, socket writes), counted over a window of the run only, so start
// and warm-up do not blur the steady state.
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  group: string;
  selfMs: number;
}

export interface ProfileSummary {
  /** Sampled time in the window that was not idle, ms. */
  busyMs: number;
  idleMs: number;
  groups: Array<{ group: string; selfMs: number }>;
  functions: FunctionTime[];
}

// Native functions Node's streams call to put bytes on a socket: their time is the system call.
const socketWrites = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'shutdown']);

const ours = /\/dist\/src\/(.+)\.js$/;
const nodeModule = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//;

/** The group a function's self time is counted in. */
export function groupOf(f: CallFrame): string {
  if (f.url === '') {
    if (f.functionName === '(garbage collector)') return 'garbage collection';
    if (f.functionName === '(program)') return 'native, outside JavaScript (event loop, socket reads, V8)';
    if (f.functionName === 'execute' || f.functionName === 'finish') return 'llhttp (parsing requests)';
    if (socketWrites.has(f.functionName)) return 'socket writes (system calls)';
    return 'other native functions';
  }
  // The only WebAssembly in the process: undici's build of llhttp, parsing backend responses.
  if (f.url.startsWith('wasm://')) return 'undici (package)';
  const own = ours.exec(f.url);
  if (own) return `mpmproxy: ${own[1]}`;
  if (f.url.startsWith('node:_http_')) return 'Node http server';
  if (f.url.startsWith('node:')) return 'Node net, streams, events, timers';
  const pkg = nodeModule.exec(f.url);
  return pkg ? `${pkg[1]} (package)` : f.url;
}

function label(f: CallFrame): string {
  const file = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(dist\/src|node_modules)\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${file}`;
}

/**
 * Self time by function and group over the samples taken between `fromUs` and `toUs` (the
 * profile's clock: CLOCK_MONOTONIC in µs on Linux, the clock of process.hrtime, so a caller
 * can take the window's ends from its own process).
 */
export function summarizeProfile(file: string, fromUs: number, toUs: number): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const perFunction = new Map<string, FunctionTime>();
  let idleMs = 0;
  let busyMs = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    // A sample stands for the time until the next one.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < fromUs || t > toUs) continue;
    const f = byId.get(p.samples[i]);
    if (f === undefined) continue;
    if (f.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const name = label(f);
    const entry = perFunction.get(name);
    if (entry) entry.selfMs += ms;
    else perFunction.set(name, { name, group: groupOf(f), selfMs: ms });
  }
  if (busyMs + idleMs === 0) throw new Error(`${file}: no samples between ${fromUs} and ${toUs} µs`);
  const groups = new Map<string, number>();
  for (const f of perFunction.values()) groups.set(f.group, (groups.get(f.group) ?? 0) + f.selfMs);
  return {
    busyMs,
    idleMs,
    groups: [...groups].map(([group, selfMs]) => ({ group, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
    functions: [...perFunction.values()].sort((a, b) => b.selfMs - a.selfMs),
  };
}
