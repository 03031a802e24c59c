// `-V`: version, build, MPM and every value in force, in httpd -V's shape.
import os from 'node:os';
import type { Settings } from '../config/types';
import { heapLimitMb } from '../limits/memory';
import { limitsReport } from '../limits/settings';
import { sessionReport } from '../session/settings-report';
import { protocolsReport } from '../http2/settings';
import { mpmFor } from '../mpm';
import { serverVersion } from '../version';

const ms = (v: number) => (v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`);
const unlimited = (v: number) => (v === 0 ? '0 (unlimited)' : String(v));
const bytes = (v: number) => (v % 2 ** 20 === 0 ? `${v / 2 ** 20}M` : v % 1024 === 0 ? `${v / 1024}K` : String(v));

export function settingsReport(s: Settings): string {
  const mpm = mpmFor(s.mpm);
  const lines = [
    `Server version: ${serverVersion}`,
    `Server built:   Node.js ${process.version} (${process.arch}), N-API addon for shared memory`,
    `Architecture:   ${os.arch()}`,
    `Server MPM:     ${s.mpm}`,
    `  threaded:     ${mpm.threaded ? 'yes (fixed thread count)' : 'no'}`,
    `    forked:     yes (variable process count)`,
    ...mpm.describe(s).map((l) => `  ${l}`),
    `Configuration:  ${s.configFile}`,
    'Values in force:',
    ...[
      ['ServerRoot', s.serverRoot],
      ['DefaultRuntimeDir', s.runtimeDir],
      ['PidFile', s.pidFile],
      ['Listen', s.listen.map((l) => l.text).join(', ')],
      ['ListenBacklog', s.listenBacklog],
      ['User', s.user ?? '(unchanged)'],
      ['Group', s.group ?? '(unchanged)'],
      ['StartServers', s.startServers],
      ['MinSpareServers', s.minSpareServers],
      ['MaxSpareServers', s.maxSpareServers],
      ['MinSpareThreads', s.minSpareThreads],
      ['MaxSpareThreads', s.maxSpareThreads],
      ['ServerLimit', s.serverLimit],
      ['ThreadLimit', s.threadLimit],
      ['ThreadsPerChild', s.threadsPerChild],
      ['MaxRequestWorkers', s.maxRequestWorkers],
      ['MaxConnectionsPerChild', unlimited(s.maxConnectionsPerChild)],
      ['AsyncRequestWorkerFactor', s.asyncRequestWorkerFactor],
      ['GracefulShutdownTimeout', ms(s.gracefulShutdownTimeout)],
      ['ExitTimeout', `${ms(s.exitTimeout)} (bounds every drain)`],
      ['LimitMemory', s.limitMemory === 0 ? 'unlimited' : `${bytes(s.limitMemory)} (children's V8 heap: ${heapLimitMb(s.limitMemory)}M)`],
      ['LimitMemoryServer', s.limitMemoryServer === 0 ? 'unlimited' : bytes(s.limitMemoryServer)],
      ['MemoryPolicy', s.memoryPolicy],
      ['CrashRecoveryStrategy', s.crashRecoveryStrategy],
      ['CoreDumpDirectory', s.coreDumpDirectory],
      ['LimitProcesses', s.limitProcesses === 0 ? 'unlimited' : s.limitProcesses],
      ['LimitFiles', s.limitFiles === 0 ? '0 (the hard limit)' : s.limitFiles],
      ['MinWorkers', s.minWorkers],
      ['LimitWorkers', s.limitWorkers],
      ['ThreadStack', s.threadStack === 0 ? "0 (Node's default)" : bytes(s.threadStack)],
      ['Timeout', ms(s.timeout)],
      ['KeepAlive', s.keepAlive ? 'On' : 'Off'],
      ['KeepAliveTimeout', ms(s.keepAliveTimeout)],
      ['MaxKeepAliveRequests', unlimited(s.maxKeepAliveRequests)],
      ...limitsReport(s.limits),
      ...sessionReport(s),
      ['SSLSessionCache', s.tls.sessionCacheBytes === 0 ? 'none' : `shm:${bytes(s.tls.sessionCacheBytes)}`],
      ['SSLSessionCacheTimeout', ms(s.tls.sessionTimeout)],
      ['SSLSessionTickets', s.tls.sessionTickets ? 'on' : 'off'],
      ['SSLSessionTicketKeyRotation', ms(s.tls.ticketKeyRotation)],
      ...protocolsReport(s.protocols),
      ['ProxyDNSCacheTimeout', ms(s.upstreams.dnsCacheTimeout)],
      ...s.upstreams.balancers.map((b) => ['Balancer', `${b.name} lbmethod=${b.lbmethod} members=${b.members.map((m) => m.origin).join(',')}`]),
      ['ErrorLog', s.errorLog],
      [
        'LogLevel',
        [s.logLevel.level, ...Object.entries(s.logLevel.modules).map(([m, l]) => `${m}:${l}`)].join(' '),
      ],
      ...s.accessLogs.map((l) => ['CustomLog', `${l.target} ${l.format.kind === 'json' ? 'json' : JSON.stringify(l.format.text)}`]),
    ].map(([k, v]) => ` ${String(k).padEnd(25)} ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}
