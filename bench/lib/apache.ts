// Apache httpd (Debian's apache2) with a generated, self-contained configuration: the Apache
// whose MPMs mpmproxy's master mirrors, as a reverse proxy or a static server to compare with.
import { LOOPBACK } from './ports';
import { isProxy, startPeer } from './peer';
import type { Peer, PeerRole } from './peer';
import type { WorkDir } from './work-dir';

export type ApacheMpm = 'prefork' | 'worker' | 'event';

export interface ApacheOptions {
  dir: WorkDir;
  port: number;
  role: PeerRole;
  mpm?: ApacheMpm;
  /** MPM directives (StartServers, ThreadsPerChild, …), one a line, added as given. */
  tuning?: string[];
}

const modules = '/usr/lib/apache2/modules';

export function apacheConfig(o: ApacheOptions): string {
  const d = o.dir.path;
  const mpm = o.mpm ?? 'event';
  const load = (name: string) => `LoadModule ${name}_module ${modules}/mod_${name}.so`;
  // Backend connections are reused across requests (enablereuse) and probed while idle
  // (keepalive), as the other proxies pool theirs.
  const role = isProxy(o.role)
    ? [load('proxy'), load('proxy_http'), `ProxyPass / http://${LOOPBACK}:${o.role.backendPort}/ enablereuse=on keepalive=On`]
    : [`DocumentRoot ${o.role.root}`, `<Directory ${o.role.root}>`, '  Require all granted', '</Directory>'];
  return [
    `ServerRoot ${d}`,
    `ServerName ${LOOPBACK}`,
    `Listen ${LOOPBACK}:${o.port}`,
    `PidFile ${d}/apache2.pid`,
    `DefaultRuntimeDir ${d}`,
    `Mutex file:${d} default`,
    `ErrorLog ${d}/apache2-error.log`,
    'LogLevel warn',
    load(`mpm_${mpm}`),
    load('authz_core'),
    // Run as root, httpd's children must switch to an unprivileged user.
    ...(process.getuid?.() === 0 ? ['User www-data', 'Group www-data'] : []),
    'KeepAlive On',
    'MaxKeepAliveRequests 0',
    ...(o.tuning ?? []),
    ...role,
    '',
  ].join('\n');
}

export function startApache(o: ApacheOptions): Promise<Peer> {
  const configFile = o.dir.write('apache2.conf', apacheConfig(o));
  return startPeer({
    name: 'apache2',
    dir: o.dir,
    port: o.port,
    configFile,
    command: 'apache2',
    checkArgs: ['-f', configFile, '-t'],
    runArgs: ['-f', configFile, '-DFOREGROUND'],
  });
}
