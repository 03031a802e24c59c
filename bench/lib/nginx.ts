// nginx (Debian's nginx-light) with a generated configuration: a static file server for the
// proxies to forward to, or a reverse proxy itself, as a peer to compare with.
import { LOOPBACK } from './ports';
import { isProxy, startPeer } from './peer';
import type { Peer, PeerRole } from './peer';
import type { WorkDir } from './work-dir';

export interface NginxOptions {
  dir: WorkDir;
  port: number;
  role: PeerRole;
  /** worker_processes; 'auto' is one per core. */
  workers?: number | 'auto';
  /** Serves HTTPS with this certificate and key, sessions in `ssl_session_cache shared:SSL:10m`
   * and tickets on. */
  tls?: { cert: string; key: string };
  /** HTTP/2 on the listener (`listen ... http2`: by prior knowledge on cleartext). */
  http2?: boolean;
}

export function nginxConfig(o: NginxOptions): string {
  const d = o.dir.path;
  const location = isProxy(o.role)
    ? [
        '    location / {',
        '      proxy_pass http://backend;',
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '    }',
      ]
    : [`    location / { root ${o.role.root}; }`];
  const upstream = isProxy(o.role)
    ? ['  upstream backend {', `    server ${LOOPBACK}:${o.role.backendPort};`, '    keepalive 64;', '  }']
    : [];
  return [
    `worker_processes ${o.workers ?? 'auto'};`,
    `pid ${d}/nginx.pid;`,
    `error_log ${d}/nginx-error.log warn;`,
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    '  default_type text/html;',
    // A load generator's connections should stay open for the whole run.
    '  keepalive_requests 1000000;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${d}/tmp-${t};`),
    ...upstream,
    '  server {',
    `    listen ${LOOPBACK}:${o.port}${o.tls ? ' ssl' : ''}${o.http2 ? ' http2' : ''};`,
    ...(o.tls
      ? [
          `    ssl_certificate ${o.tls.cert};`,
          `    ssl_certificate_key ${o.tls.key};`,
          '    ssl_protocols TLSv1.2 TLSv1.3;',
          '    ssl_session_cache shared:SSL:10m;',
          '    ssl_session_timeout 5m;',
          '    ssl_session_tickets on;',
        ]
      : []),
    ...location,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function startNginx(o: NginxOptions): Promise<Peer> {
  const configFile = o.dir.write('nginx.conf', nginxConfig(o));
  // -e keeps nginx from opening the system's error log before it reads the configuration.
  const base = ['-p', o.dir.path, '-c', configFile, '-e', o.dir.file('nginx-error.log')];
  return startPeer({
    name: 'nginx',
    dir: o.dir,
    port: o.port,
    configFile,
    command: 'nginx',
    checkArgs: [...base, '-t', '-q'],
    runArgs: [...base, '-g', 'daemon off;'],
  });
}
