// Reads mpmproxy's `server-status?auto`: Apache mod_status's fields plus one `Process:` line per
// live child with its connection and request counters from the shared scoreboard.
import http from 'node:http';
import { parseStatusAuto, type StatusProcess } from '../../test/helpers/daemon';
import { LOOPBACK } from './ports';

export type ChildStatus = StatusProcess;

export interface ServerStatus {
  fields: Record<string, string>;
  children: ChildStatus[];
}

/** The same reading of the format as the test suite's, under the benchmarks' names. */
export function parseServerStatus(text: string): ServerStatus {
  const { fields, processes } = parseStatusAuto(text);
  return { fields, children: processes };
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
