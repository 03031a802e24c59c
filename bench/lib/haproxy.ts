// HAProxy (Debian's haproxy) with a generated configuration, as a reverse-proxy peer.
import { LOOPBACK } from './ports';
import { startPeer } from './peer';
import type { Peer } from './peer';
import type { WorkDir } from './work-dir';

export interface HaproxyOptions {
  dir: WorkDir;
  port: number;
  backendPort: number;
  /** nbthread; HAProxy runs one process with this many threads. */
  threads?: number;
}

export function haproxyConfig(o: HaproxyOptions): string {
  return [
    'global',
    `  nbthread ${o.threads ?? 2}`,
    // HAProxy will not start when maxconn needs more descriptors (two a connection) than the
    // fd limit allows; 4096 needs about 8,200.
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend bench',
    `  bind ${LOOPBACK}:${o.port}`,
    '  default_backend origin',
    'backend origin',
    // Backend connections are reused across client connections, as the other proxies pool them.
    '  http-reuse always',
    `  server origin ${LOOPBACK}:${o.backendPort}`,
    '',
  ].join('\n');
}

export function startHaproxy(o: HaproxyOptions): Promise<Peer> {
  const configFile = o.dir.write('haproxy.cfg', haproxyConfig(o));
  return startPeer({
    name: 'haproxy',
    dir: o.dir,
    port: o.port,
    configFile,
    command: 'haproxy',
    checkArgs: ['-c', '-q', '-f', configFile],
    // -db: foreground, no daemon; TERM is HAProxy's immediate stop.
    runArgs: ['-db', '-f', configFile],
  });
}
