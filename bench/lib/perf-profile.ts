// Where a process's CPU time goes, from Linux `perf`: samples of CPU time (not of the clock, as
// V8's profiler takes them), kernel included, with the JavaScript frames named through the map
// that `node --perf-basic-prof-only-functions` writes. A sample counts for the innermost
// JavaScript function on its stack, whatever ran below it (V8 builtins, Node's C++, system
// calls); a sample with no JavaScript frame counts as garbage collection, Node's own llhttp, the
// event loop, or other native code.
import fs from 'node:fs';
import { runCommand } from './processes';

export interface PerfGroup {
  group: string;
  /** Share of all samples. */
  share: number;
  /** Share of all samples that were in the kernel (system calls, TCP, wake-ups). */
  kernelShare: number;
}

export interface PerfSummary {
  samples: number;
  groups: PerfGroup[];
}

/** The flag that makes Node write /tmp/perf-<pid>.map for its compiled functions. */
export const perfMapFlag = '--perf-basic-prof-only-functions';

const ours = /\/dist\/src\/(.+?)\.js:/;

function jsGroup(symbol: string): string {
  const own = ours.exec(symbol);
  if (own) return `mpmproxy: ${own[1]}`;
  if (symbol.includes('/node_modules/undici/') || symbol.includes('wasm-function')) return 'undici (its llhttp in WebAssembly included)';
  if (symbol.includes(' node:_http_')) return 'Node http server';
  if (symbol.includes(' node:')) return 'Node net, streams, events, timers (and the system calls they make)';
  return 'other JavaScript';
}

function nativeGroup(symbols: string[]): string {
  const stack = symbols.join('\n');
  if (/Scavenger|MarkCompact|Heap::|Sweeper|ConcurrentMarking|GCTracer/.test(stack)) return 'garbage collection';
  if (/Parser::Execute|llhttp__internal/.test(stack)) return "llhttp (Node's request parser)";
  if (/uv__io_poll|epoll/.test(stack)) return 'event loop (epoll, socket reads)';
  return 'other native code';
}

interface Frame {
  symbol: string;
  kernel: boolean;
}

function frames(block: string): Frame[] {
  const out: Frame[] = [];
  for (const line of block.split('\n')) {
    // "<address> <symbol> (<object file>)"
    const m = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line);
    if (m) out.push({ symbol: m[1], kernel: m[2].includes('kernel') });
  }
  return out;
}

/** Samples `pid` for `seconds` with call stacks, then groups them. */
export async function perfProfile(pid: number, seconds: number, dataFile: string): Promise<PerfSummary> {
  const record = await runCommand('perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-p', String(pid), '-o', dataFile, '--', 'sleep', String(seconds)]);
  if (record.code !== 0) throw new Error(`perf record failed: ${record.stderr}`);
  const script = await runCommand('perf', ['script', '-i', dataFile, '-F', 'ip,sym,dso']);
  if (script.code !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  fs.rmSync(dataFile, { force: true });
  const counts = new Map<string, { all: number; kernel: number }>();
  let samples = 0;
  for (const block of script.stdout.split('\n\n')) {
    const stack = frames(block);
    if (stack.length === 0) continue;
    samples++;
    const js = stack.find((f) => f.symbol.startsWith('JS:') && !/wasm-to-js|js-to-wasm/.test(f.symbol));
    const group = js ? jsGroup(js.symbol) : nativeGroup(stack.map((f) => f.symbol));
    const c = counts.get(group) ?? { all: 0, kernel: 0 };
    c.all++;
    if (stack[0].kernel) c.kernel++;
    counts.set(group, c);
  }
  if (samples === 0) throw new Error(`perf recorded no samples of process ${pid}`);
  const groups = [...counts].map(([group, c]) => ({ group, share: c.all / samples, kernelShare: c.kernel / samples }));
  return { samples, groups: groups.sort((a, b) => b.share - a.share) };
}
