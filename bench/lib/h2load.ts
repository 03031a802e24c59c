// h2load (nghttp2-client) as the load generator for HTTP/2: a timed run after a warm-up, its
// summary lines read back.
import { runCommand } from './processes';

export interface H2loadOptions {
  url: string;
  clients: number;
  /** Concurrent streams per client connection (-m); 1 with --h1 is plain keep-alive HTTP/1.1. */
  streams: number;
  threads: number;
  durationS: number;
  warmupS: number;
  /** HTTP/1.1 instead of HTTP/2 (h2load --h1). */
  h1?: boolean;
}

export interface H2loadResult {
  command: string;
  requestsPerSec: number;
  succeeded: number;
  failed: number;
  errored: number;
  non2xx: number;
}

export async function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = [
    ...(o.h1 ? ['--h1'] : []),
    '-c', String(o.clients),
    '-m', String(o.streams),
    '-t', String(o.threads),
    '-D', String(o.durationS),
    `--warm-up-time=${o.warmupS}`,
    o.url,
  ];
  const r = await runCommand('h2load', args, (o.durationS + o.warmupS + 30) * 1000);
  if (r.code !== 0) throw new Error(`h2load exited with ${r.code}: ${r.stderr || r.stdout}`);
  const num = (re: RegExp): number => {
    const m = re.exec(r.stdout);
    if (!m) throw new Error(`h2load output without ${re}:\n${r.stdout}`);
    return Number(m[1]);
  };
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(r.stdout);
  return {
    command: `h2load ${args.join(' ')}`,
    requestsPerSec: num(/finished in [\d.]+m?s, ([\d.]+) req\/s/),
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/),
    errored: num(/(\d+) errored/),
    non2xx: codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0,
  };
}
