import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { embeddedConfig, loadConfig, resolveSettings } from '../src/config';
import type { ProcessLimits } from '../src/config/process-limits';
import { noRouteSession, type SessionSettings } from '../src/config/session';
import type { Settings } from '../src/config/types';
import { writeSelfSigned } from '../src/tls/selfsigned';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-settings-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Settings of `config` written to tmp/main.conf, on a machine with `cpus` CPUs, as uid 1000. */
/** The session settings of a configuration that writes no Session* directive. */
function defaultSessionSettings(runtimeDir: string): SessionSettings {
  return {
    store: 'shm',
    cookieName: 'mpmproxy_session',
    cookie: { path: '/', domain: null, httpOnly: true, secure: false, sameSite: 'Lax' },
    maxIdle: 1_800_000,
    maxLifetime: 28_800_000,
    expiryUpdateInterval: 60_000,
    renewOnAuthentication: true,
    keepOldCookieTimeout: 5_000,
    onInvalidCookie: 'new',
    memorySize: 16 * 2 ** 20,
    sqliteFile: path.join(runtimeDir, 'sessions.sqlite'),
    dbUrl: null,
    dbPoolSize: 4,
    dbRetriesOnLockWaitTimeout: 3,
    dbTimeout: 5_000,
    limit: 0,
    used: false,
  };
}

function settingsOf(config: string, cpus = 4, uid = 1000): Settings {
  const file = path.join(tmp, 'main.conf');
  return resolveSettings(loadConfig({ file, text: `Listen 8080\n${config}` }), { cpus, uid });
}

type Limits = ProcessLimits & Pick<Settings, 'warnings'>;

function limitsOf(config: string, cpus = 4): Limits {
  const s = settingsOf(config, cpus);
  return {
    startServers: s.startServers,
    minSpareServers: s.minSpareServers,
    maxSpareServers: s.maxSpareServers,
    minSpareThreads: s.minSpareThreads,
    maxSpareThreads: s.maxSpareThreads,
    serverLimit: s.serverLimit,
    threadLimit: s.threadLimit,
    threadsPerChild: s.threadsPerChild,
    maxRequestWorkers: s.maxRequestWorkers,
    warnings: s.warnings,
  };
}

const at = (line: number, directive: string, message: string): string => `${tmp}/main.conf:${line}: ${directive}: ${message}`;

describe('the embedded configuration', () => {
  it('resolves to these settings', () => {
    const settings = resolveSettings(loadConfig(), { cpus: 4, uid: 1000 });
    const runtimeDir = path.join(os.tmpdir(), 'mpmproxy-1000');
    assert.deepEqual(settings, {
      configFile: '(embedded)',
      serverRoot: process.cwd(),
      mpm: 'event',
      stateAware: { sessionTimeout: 300_000, sessionLimit: 1024 },
      startServers: 4,
      minSpareServers: 2,
      maxSpareServers: 8,
      minSpareThreads: 64,
      maxSpareThreads: 256,
      serverLimit: 16,
      threadLimit: 256,
      threadsPerChild: 64,
      maxRequestWorkers: 1024,
      maxConnectionsPerChild: 0,
      asyncRequestWorkerFactor: 2,
      gracefulShutdownTimeout: 30_000,
      exitTimeout: 30_000,
      limitMemory: 0,
      limitMemoryServer: 0,
      memoryPolicy: 'restart',
      crashRecoveryStrategy: 'recover',
      coreDumpDirectory: process.cwd(),
      limitProcesses: 0,
      limitFiles: 0,
      minWorkers: 0,
      limitWorkers: 4,
      threadStack: 0,
      timeout: 60_000,
      keepAlive: true,
      keepAliveTimeout: 5_000,
      maxKeepAliveRequests: 100,
      listen: [{ host: '0.0.0.0', port: 8080, protocol: 'http', text: '8080' }],
      listenBacklog: 511,
      user: null,
      group: null,
      pidFile: path.join(runtimeDir, 'mpmproxy.pid'),
      protocols: { h2: false, h2c: false, maxResets: 100, resetIntervalMs: 10_000, webSocketIdleTimeout: 60_000 },
      runtimeDir,
      serverName: null,
      errorLog: 'stderr',
      logLevel: { level: 'notice', modules: {} },
      accessLogs: [],
      routes: [
        { prefix: '/server-status', kind: 'status' },
        {
          prefix: '/demo/',
          kind: 'proxy',
          target: 'http://127.0.0.1:8081/',
          params: {},
          file: '(embedded)',
          line: 15,
          proxy: { preserveHost: false, addHeaders: true, timeout: 60_000, reverse: [], session: noRouteSession, stateAware: 'auto' },
        },
        { prefix: '/', kind: 'page' },
      ],
      trustedAddresses: [],
      clientCertHeaders: {},
      virtualHosts: [],
      tls: { hosts: [null], sessionCacheBytes: 0, sessionTimeout: 300_000, sessionTickets: true, ticketKeyRotation: 43_200_000 },
      limits: {
        clients: 0,
        connections: 0,
        connectionsPerClient: 0,
        requestsPerClient: 0,
        requestBody: 0,
        requestForm: 0,
        upload: 0,
        requestHeader: 16384,
        requestHeaderLines: 100,
        uri: 8192,
        keepAlive: 0,
        responseBody: 0,
        chunk: 0,
        packet: 0,
        sessions: 0,
        streams: 20,
        webSocketsMessage: 0,
        webSocketsPacket: 0,
        webSocketsFrame: 0,
        cache: 0,
        cacheItem: 524288,
        readTimeout: {
          header: { timeout: 20_000, max: 40_000, minRate: 500 },
          body: { timeout: 20_000, max: 0, minRate: 500 },
        },
      },
      session: defaultSessionSettings(runtimeDir),
      cacheSize: 0,
      upstreams: {
        dnsCacheTimeout: 3_600_000,
        backends: [
          {
            name: 'http://127.0.0.1:8081',
            origin: 'http://127.0.0.1:8081',
            key: 'http://127.0.0.1:8081',
            max: 64,
            timeout: 60_000,
            connectTimeout: 60_000,
            ttl: null,
            tcpKeepAlive: false,
            disableReuse: false,
            retry: 60_000,
            dnsTtl: 3_600_000,
            loadFactor: 1,
            route: '',
            status: { standby: false, stopped: false, drain: false, ignoreErrors: false },
            health: null,
            tls: null,
            remote: null,
          },
        ],
        balancers: [],
      },
      warnings: [],
    });
  });

  it('is what loadConfig reads without a file or text', () => {
    assert.deepEqual(loadConfig({ text: embeddedConfig }), loadConfig());
  });
});

describe('defaults per MPM', () => {
  it('event: 16 children of 64 slots, StartServers = CPUs', () => {
    assert.deepEqual(limitsOf('', 6), {
      startServers: 6, minSpareServers: 2, maxSpareServers: 8, minSpareThreads: 64, maxSpareThreads: 384,
      serverLimit: 16, threadLimit: 256, threadsPerChild: 64, maxRequestWorkers: 1024, warnings: [],
    });
  });

  it('MaxSpareThreads counts at least two children', () => {
    assert.equal(limitsOf('', 1).maxSpareThreads, 128);
  });

  it('worker: 16 children of 8 threads', () => {
    assert.deepEqual(limitsOf('MPM worker\n', 4), {
      startServers: 4, minSpareServers: 2, maxSpareServers: 8, minSpareThreads: 8, maxSpareThreads: 32,
      serverLimit: 16, threadLimit: 64, threadsPerChild: 8, maxRequestWorkers: 128, warnings: [],
    });
  });

  it('prefork: 256 children of one slot, spare threads = spare servers', () => {
    assert.deepEqual(limitsOf('MPM prefork\n', 4), {
      startServers: 4, minSpareServers: 2, maxSpareServers: 8, minSpareThreads: 2, maxSpareThreads: 8,
      serverLimit: 256, threadLimit: 1, threadsPerChild: 1, maxRequestWorkers: 256, warnings: [],
    });
  });

  it('derives the defaults from what is written, without warnings', () => {
    assert.deepEqual(limitsOf('ServerLimit 4\nThreadLimit 32\n', 8), {
      startServers: 4, minSpareServers: 2, maxSpareServers: 8, minSpareThreads: 32, maxSpareThreads: 128,
      serverLimit: 4, threadLimit: 32, threadsPerChild: 32, maxRequestWorkers: 128, warnings: [],
    });
    assert.deepEqual(limitsOf('MPM prefork\nMaxRequestWorkers 3\nMinSpareServers 10\n', 16), {
      startServers: 3, minSpareServers: 10, maxSpareServers: 11, minSpareThreads: 10, maxSpareThreads: 11,
      serverLimit: 256, threadLimit: 1, threadsPerChild: 1, maxRequestWorkers: 3, warnings: [],
    });
    assert.equal(limitsOf('MinSpareThreads 500\n', 2).maxSpareThreads, 564);
  });

  it('uses os.availableParallelism() when no CPU count is given', () => {
    const parsed = loadConfig({ text: 'Listen 8080\n' });
    assert.equal(resolveSettings(parsed).startServers, Math.min(os.availableParallelism(), 16));
  });
});

describe("Apache's adjustments, each with a warning", () => {
  /** What is written (after the Listen on line 1), on a machine with 4 CPUs unless said,
   * what it resolves to, and the one warning, at the adjusted directive's line. */
  const cases: Array<{ rule: string; config: string; cpus?: number; expect: Partial<Limits>; warning: string }> = [
    {
      rule: 'lowers ThreadsPerChild to ThreadLimit',
      config: 'ThreadLimit 100\nThreadsPerChild 300\n',
      expect: { threadsPerChild: 100, maxRequestWorkers: 1600 },
      warning: at(3, 'ThreadsPerChild', '300 exceeds ThreadLimit of 100; lowered to 100'),
    },
    {
      rule: 'lowers MaxRequestWorkers to ServerLimit × ThreadsPerChild',
      config: 'MaxRequestWorkers 2048\n',
      expect: { maxRequestWorkers: 1024 },
      warning: at(2, 'MaxRequestWorkers', '2048 exceeds ServerLimit × ThreadsPerChild (16 × 64); lowered to 1024'),
    },
    {
      rule: 'rounds MaxRequestWorkers down to a multiple of ThreadsPerChild',
      config: 'MPM worker\nMaxRequestWorkers 100\n',
      expect: { maxRequestWorkers: 96 },
      warning: at(3, 'MaxRequestWorkers', '100 is not a multiple of ThreadsPerChild of 8; lowered to 96'),
    },
    {
      rule: 'raises MaxRequestWorkers to one child of ThreadsPerChild',
      config: 'MaxClients 10\n',
      cpus: 1,
      expect: { maxRequestWorkers: 64, startServers: 1 },
      warning: at(2, 'MaxRequestWorkers', '10 is less than ThreadsPerChild of 64; raised to 64'),
    },
    {
      rule: 'raises MaxSpareThreads to MinSpareThreads + ThreadsPerChild',
      config: 'MinSpareThreads 100\nMaxSpareThreads 120\n',
      expect: { maxSpareThreads: 164 },
      warning: at(3, 'MaxSpareThreads', '120 is less than MinSpareThreads + ThreadsPerChild (100 + 64); raised to 164'),
    },
    {
      rule: 'raises prefork MaxSpareServers to MinSpareServers + 1',
      config: 'MPM prefork\nMinSpareServers 5\nMaxSpareServers 3\n',
      expect: { maxSpareServers: 6, maxSpareThreads: 6 },
      warning: at(4, 'MaxSpareServers', '3 is less than MinSpareServers + 1 (5 + 1); raised to 6'),
    },
    {
      rule: 'lowers prefork MaxRequestWorkers to ServerLimit',
      config: 'MPM prefork\nServerLimit 10\nMaxRequestWorkers 50\n',
      expect: { maxRequestWorkers: 10 },
      warning: at(4, 'MaxRequestWorkers', '50 exceeds ServerLimit of 10; lowered to 10'),
    },
    {
      rule: 'lowers StartServers to the children MaxRequestWorkers allows',
      config: 'StartServers 8\nMaxRequestWorkers 256\n',
      expect: { startServers: 4 },
      warning: at(2, 'StartServers', '8 exceeds the 4 children MaxRequestWorkers allows; lowered to 4'),
    },
    {
      rule: 'lowers prefork StartServers to MaxRequestWorkers',
      config: 'MPM prefork\nStartServers 8\nMaxRequestWorkers 5\n',
      expect: { startServers: 5 },
      warning: at(3, 'StartServers', '8 exceeds the 5 children MaxRequestWorkers allows; lowered to 5'),
    },
  ];

  for (const { rule, config, cpus, expect, warning } of cases) {
    it(rule, () => {
      const limits = limitsOf(config, cpus);
      assert.deepEqual(limits, { ...limits, ...expect, warnings: [warning] });
    });
  }

  it('bounds GracefulShutdownTimeout 0', () => {
    const s = settingsOf('GracefulShutdownTimeout 0\n');
    assert.equal(s.gracefulShutdownTimeout, 30_000);
    assert.deepEqual(s.warnings, [at(2, 'GracefulShutdownTimeout', '0 (wait for ever) is not supported: draining stops after 30s')]);
    assert.equal(settingsOf('GracefulShutdownTimeout 90s\n').gracefulShutdownTimeout, 90_000);
  });

  it('reports directives the selected MPM ignores', () => {
    assert.deepEqual(settingsOf('MinSpareServers 3\nAsyncRequestWorkerFactor 3\n').warnings, [at(2, 'MinSpareServers', 'ignored by the event MPM')]);
    const prefork = settingsOf('MPM prefork\nThreadsPerChild 4\nThreadLimit 8\nMaxSpareThreads 9\nAsyncRequestWorkerFactor 3\n');
    assert.deepEqual(prefork.warnings, [
      at(3, 'ThreadsPerChild', 'ignored by the prefork MPM'),
      at(4, 'ThreadLimit', 'ignored by the prefork MPM'),
      at(5, 'MaxSpareThreads', 'ignored by the prefork MPM'),
      at(6, 'AsyncRequestWorkerFactor', 'ignored by the prefork MPM'),
    ]);
    assert.deepEqual([prefork.threadsPerChild, prefork.threadLimit, prefork.maxSpareThreads], [1, 1, 8]);
  });
});

describe('other values', () => {
  it('takes the last value written, as Apache does', () => {
    const s = settingsOf('Timeout 10\nTimeout 20\nKeepAlive Off\nMaxKeepAliveRequests unlimited\nMaxConnectionsPerChild 500\nAsyncRequestWorkerFactor 0.5\nListenBacklog 64\nUser www\nGroup www\nServerName proxy.example\n');
    assert.deepEqual(
      [s.timeout, s.keepAlive, s.maxKeepAliveRequests, s.maxConnectionsPerChild, s.asyncRequestWorkerFactor, s.listenBacklog, s.user, s.group, s.serverName],
      [20_000, false, 0, 500, 0.5, 64, 'www', 'www', 'proxy.example'],
    );
  });

  it('keeps every Listen, in order', () => {
    const { certFile, keyFile } = writeSelfSigned('localhost', tmp);
    const tls = `SSLCertificateFile ${certFile}\nSSLCertificateKeyFile ${keyFile}\n`;
    assert.deepEqual(settingsOf(`Listen [::1]:8081\nListen 127.0.0.1:8443 https\n${tls}`).listen.map((l) => [l.host, l.port, l.protocol]), [
      ['0.0.0.0', 8080, 'http'],
      ['::1', 8081, 'http'],
      ['127.0.0.1', 8443, 'https'],
    ]);
  });

  it('requires a Listen, naming the main file', () => {
    const file = path.join(tmp, 'nolisten.conf');
    fs.writeFileSync(file, 'KeepAlive On\n');
    assert.throws(() => loadConfig({ file }), { message: `${file}:1: Listen: no Listen directive; at least one is required` });
  });

  it('rejects the same address and port twice', () => {
    assert.throws(() => loadConfig({ text: 'Listen 8080\nListen *:8080\nListen 127.0.0.1:8080\n' }), {
      message: '(embedded):2: Listen: 0.0.0.0:8080 is already listened on at (embedded):1',
    });
  });

  it('applies LogLevel lines in order; a plain level resets module levels', () => {
    assert.deepEqual(settingsOf('LogLevel info proxy:debug\nLogLevel child:trace1\n').logLevel, {
      level: 'info',
      modules: { proxy: 'debug', child: 'trace1' },
    });
    assert.deepEqual(settingsOf('LogLevel proxy:debug\nLogLevel error master:info\n').logLevel, {
      level: 'error',
      modules: { master: 'info' },
    });
  });
});

describe('paths', () => {
  it('resolve against ServerRoot, which defaults to the main file’s directory', () => {
    fs.mkdirSync(path.join(tmp, 'root'), { recursive: true });
    const s = settingsOf('PidFile run/x.pid\nErrorLog logs/error.log\nDefaultRuntimeDir rt\n');
    assert.deepEqual([s.serverRoot, s.pidFile, s.errorLog, s.runtimeDir], [tmp, `${tmp}/run/x.pid`, `${tmp}/logs/error.log`, `${tmp}/rt`]);
    const moved = settingsOf('ServerRoot root\nPidFile /abs/x.pid\nErrorLog syslog\n');
    assert.deepEqual([moved.serverRoot, moved.pidFile, moved.errorLog], [`${tmp}/root`, '/abs/x.pid', 'syslog']);
    assert.equal(moved.configFile, `${tmp}/main.conf`);
  });

  it('put the runtime directory in /run as root and in the temporary directory otherwise', () => {
    const asRoot = settingsOf('', 4, 0);
    assert.deepEqual([asRoot.runtimeDir, asRoot.pidFile], ['/run/mpmproxy', '/run/mpmproxy/mpmproxy.pid']);
    const asUser = settingsOf('DefaultRuntimeDir /var/run/mine\n', 4, 1234);
    assert.deepEqual([asUser.runtimeDir, asUser.pidFile], ['/var/run/mine', '/var/run/mine/mpmproxy.pid']);
    assert.equal(settingsOf('', 4, 1234).runtimeDir, path.join(os.tmpdir(), 'mpmproxy-1234'));
  });
});

describe('routes', () => {
  const config = [
    'ProxyPass /app http://127.0.0.1:3000/',
    'ProxyPass /app/static !',
    '<Location /server-status>', 'SetHandler server-status', '</Location>',
    '<Location />', 'SetHandler default-page', '</Location>',
    '<Location /api>', 'ProxyPass https://api.internal/', '</Location>',
    '<Location /empty>', '</Location>',
    '<VirtualHost *:8080>', 'ServerName a.example', 'ServerAlias b.example', 'ServerAlias c.example *.d.example',
    'ProxyPass / http://a-backend/', '<Location /api>', 'ProxyPass !', '</Location>', '</VirtualHost>',
    '<VirtualHost 127.0.0.1:8080 [::1]:8080>', '</VirtualHost>',
  ].join('\n');

  /** A ProxyPass route written at `line` of main.conf, with the default proxy options. */
  const proxied = (prefix: string, target: string, line: number) => ({
    prefix,
    kind: 'proxy',
    target,
    params: {},
    file: `${tmp}/main.conf`,
    line,
    proxy: { preserveHost: false, addHeaders: true, timeout: 60_000, reverse: [], session: noRouteSession, stateAware: 'auto' },
  });

  it('maps ProxyPass and <Location> to routes, longest prefix first', () => {
    assert.deepEqual(settingsOf(config).routes, [
      { prefix: '/server-status', kind: 'status' },
      { prefix: '/app/static', kind: 'exclude' },
      proxied('/api', 'https://api.internal/', 11),
      proxied('/app', 'http://127.0.0.1:3000/', 2),
      { prefix: '/', kind: 'page' },
    ]);
  });

  it('gives virtual hosts their names and routes, inheriting the server’s for other prefixes', () => {
    assert.deepEqual(settingsOf(config).virtualHosts, [
      {
        addresses: ['*:8080'],
        serverName: 'a.example',
        serverAliases: ['b.example', 'c.example', '*.d.example'],
        routes: [
          { prefix: '/server-status', kind: 'status' },
          { prefix: '/app/static', kind: 'exclude' },
          { prefix: '/api', kind: 'exclude' },
          proxied('/app', 'http://127.0.0.1:3000/', 2),
          proxied('/', 'http://a-backend/', 19),
        ],
        trustedAddresses: [],
        accessLogs: [],
        clientCertHeaders: {},
      },
      {
        addresses: ['127.0.0.1:8080', '[::1]:8080'],
        serverName: null,
        serverAliases: [],
        routes: settingsOf(config).routes,
        trustedAddresses: [],
        accessLogs: [],
        clientCertHeaders: {},
      },
    ]);
  });

  it('rejects two routes for one prefix, and a <Location> with both a handler and ProxyPass', () => {
    assert.throws(
      () => loadConfig({ text: 'Listen 8080\nProxyPass /a http://b/\n<Location /a>\nSetHandler server-status\n</Location>\n<Location /b>\nSetHandler default-page\nProxyPass http://b/\n</Location>\n<VirtualHost *>\nProxyPass /x http://b/\nProxyPass /x !\n</VirtualHost>\n' }),
      {
        message: [
          '(embedded):3: <Location>: /a is already routed at (embedded):2',
          '(embedded):6: <Location>: takes SetHandler or ProxyPass, not both',
          '(embedded):12: ProxyPass: /x is already routed at (embedded):11',
        ].join('\n'),
      },
    );
  });
});
