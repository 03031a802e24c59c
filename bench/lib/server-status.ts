// Reads mpmproxy's `server-status?auto`: Apache mod_status's fields plus one `Process:` line per
// live child with its connection and request counters from the shared scoreboard.
import http from 'node:http';
import { LOOPBACK } from './ports';

export interface ChildStatus {
  slot: number;
  pid: number;
  generation: number;
  accepting: number;
  stopping: number;
  /** Connections open now. */
  conns: number;
  /** Connections accepted since the child started. */
  connsTotal: number;
  requests: number;
  busy: number;
  keepalive: number;
}

export interface ServerStatus {
  fields: Record<string, string>;
  children: ChildStatus[];
}

export function parseServerStatus(text: string): ServerStatus {
  const fields: Record<string, string> = {};
  const children: ChildStatus[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (key !== 'Process') {
      fields[key] = value;
      continue;
    }
    const child: Record<string, number> = {};
    for (const pair of value.split(/\s+/)) {
      const [k, v] = pair.split('=');
      child[k] = Number(v);
    }
    children.push(child as unknown as ChildStatus);
  }
  return { fields, children };
}

/** One status request on its own connection, closed after the answer. */
export function fetchServerStatus(port: number, path = '/server-status'): Promise<ServerStatus> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path: `${path}?auto`, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(parseServerStatus(body))
          : reject(new Error(`server-status answered ${res.statusCode}: ${body.slice(0, 200)}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('server-status timed out')));
    req.on('error', reject);
  });
}
