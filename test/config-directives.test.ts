import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { directiveList } from '../src/config/directives';
import type { Section } from '../src/config/types';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-directives-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Each directive written badly, in the context it belongs to (after a first line with
 * Listen), and the exact error after "file:". */
const bad: Record<string, Array<[string, string]>> = {
  ServerRoot: [
    ['ServerRoot /nonexistent/dir', '2: ServerRoot: must be a directory (got "/nonexistent/dir")'],
    ['ServerRoot', '2: ServerRoot: takes one argument: ServerRoot directory-path'],
  ],
  DefaultRuntimeDir: [['DefaultRuntimeDir ""', '2: DefaultRuntimeDir: must not be empty']],
  Include: [['Include a b', '2: Include: takes one argument: Include file-path|directory-path|wildcard']],
  IncludeOptional: [['IncludeOptional ""', '2: IncludeOptional: must not be empty']],
  IfDefine: [['<IfDefine A B>\n</IfDefine>', '2: <IfDefine>: takes one argument: <IfDefine [!]parameter-name>']],
  IfModule: [['<IfModule !>\n</IfModule>', '2: <IfModule>: needs a name after !']],
  VirtualHost: [
    ['<VirtualHost>\n</VirtualHost>', '2: <VirtualHost>: takes at least one argument: <VirtualHost addr[:port] [addr[:port]] ...>'],
    ['<VirtualHost *:80 http://x>\n</VirtualHost>', '2: <VirtualHost>: must be address[:port] such as *:8080, 127.0.0.1:80 or [::1]:80 (got "http://x")'],
  ],
  Location: [
    ['<Location status>\n</Location>', '2: <Location>: must be a URL path starting with / (got "status")'],
    ['<Location ~ "^/x">\n</Location>', '2: <Location>: takes one argument: <Location URL-path>'],
  ],
  ServerName: [['ServerName "bad name"', '2: ServerName: must be a host name such as www.example.com, with an optional scheme and port (got "bad name")']],
  ServerAlias: [
    ['<VirtualHost *>\nServerAlias ok.example bad/name\n</VirtualHost>', '3: ServerAlias: must be a host name, wildcards * and ? allowed (got "bad/name")'],
  ],
  Timeout: [
    ['Timeout 5 parsecs', '2: Timeout: takes one argument: Timeout duration'],
    ['Timeout 5parsecs', '2: Timeout: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "5parsecs")'],
    ['Timeout 0', '2: Timeout: must be longer than 0 (got "0")'],
  ],
  KeepAlive: [['KeepAlive maybe', '2: KeepAlive: must be On or Off (got "maybe")']],
  KeepAliveTimeout: [['KeepAliveTimeout -5', '2: KeepAliveTimeout: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "-5")']],
  MaxKeepAliveRequests: [['MaxKeepAliveRequests -1', '2: MaxKeepAliveRequests: must be a non-negative integer or unlimited (got "-1")']],
  MPM: [['MPM apache', '2: MPM: must be one of prefork, worker, event (got "apache")']],
  StartServers: [
    ['StartServers -1', '2: StartServers: must be an integer from 1 to 20000 (got "-1")'],
    ['StartServers 0', '2: StartServers: must be an integer from 1 to 20000 (got "0")'],
  ],
  MinSpareServers: [['MinSpareServers 2.5', '2: MinSpareServers: must be an integer from 1 to 20000 (got "2.5")']],
  MaxSpareServers: [['MaxSpareServers many', '2: MaxSpareServers: must be an integer from 1 to 20000 (got "many")']],
  MinSpareThreads: [['MinSpareThreads 0', '2: MinSpareThreads: must be a positive integer (got "0")']],
  MaxSpareThreads: [['MaxSpareThreads 1 2', '2: MaxSpareThreads: takes one argument: MaxSpareThreads number']],
  ServerLimit: [['ServerLimit 20001', '2: ServerLimit: must be an integer from 1 to 20000 (got "20001")']],
  ThreadLimit: [['ThreadLimit 0', '2: ThreadLimit: must be an integer from 1 to 20000 (got "0")']],
  ThreadsPerChild: [['ThreadsPerChild x', '2: ThreadsPerChild: must be an integer from 1 to 20000 (got "x")']],
  MaxRequestWorkers: [
    ['MaxRequestWorkers 0', '2: MaxRequestWorkers: must be a positive integer (got "0")'],
    ['MaxClients -4', '2: MaxClients: must be a positive integer (got "-4")'],
  ],
  MaxConnectionsPerChild: [['MaxConnectionsPerChild lots', '2: MaxConnectionsPerChild: must be a non-negative integer or unlimited (got "lots")']],
  AsyncRequestWorkerFactor: [['AsyncRequestWorkerFactor 0', '2: AsyncRequestWorkerFactor: must be a number greater than 0 (got "0")']],
  GracefulShutdownTimeout: [['GracefulShutdownTimeout soon', '2: GracefulShutdownTimeout: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "soon")']],
  Listen: [
    ['Listen 99999', '2: Listen: port must be from 1 to 65535 (got "99999")'],
    ['Listen 80 http extra', '2: Listen: takes one or two arguments: Listen [IP-address:]port [http|https]'],
    ['Listen 80 gopher', '2: Listen: must be one of http, https (got "gopher")'],
  ],
  ListenBacklog: [['ListenBacklog 70000', '2: ListenBacklog: must be an integer from 1 to 65535 (got "70000")']],
  User: [['User "two words"', '2: User: must be a user name or #uid (got "two words")']],
  Group: [['Group #abc', '2: Group: must be a group name or #gid (got "#abc")']],
  PidFile: [['PidFile', '2: PidFile: takes one argument: PidFile filename']],
  LimitMemory: [['LimitMemory 12Q', '2: LimitMemory: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "12Q")']],
  LimitMemoryServer: [['LimitMemoryServer lots', '2: LimitMemoryServer: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "lots")']],
  MemoryPolicy: [['MemoryPolicy reboot', '2: MemoryPolicy: must be one of continue, restart, abort (got "reboot")']],
  ExitTimeout: [['ExitTimeout 0', '2: ExitTimeout: must be longer than 0 (got "0")']],
  CrashRecoveryStrategy: [['CrashRecoveryStrategy retry', '2: CrashRecoveryStrategy: must be one of recover, kill (got "retry")']],
  CoreDumpDirectory: [['CoreDumpDirectory ""', '2: CoreDumpDirectory: must not be empty']],
  LimitProcesses: [['LimitProcesses -1', '2: LimitProcesses: must be a non-negative integer or unlimited (got "-1")']],
  LimitFiles: [['LimitFiles many', '2: LimitFiles: must be a non-negative integer (got "many")']],
  MinWorkers: [['MinWorkers 2000', '2: MinWorkers: must be an integer from 0 to 1024 (got "2000")']],
  LimitWorkers: [['LimitWorkers 0', '2: LimitWorkers: must be an integer from 1 to 1024 (got "0")']],
  ThreadStack: [['ThreadStack 2G', '2: ThreadStack: must be at most 1G (got "2G")']],
  ErrorLog: [
    ['ErrorLog "|/usr/bin/rotatelogs x"', '2: ErrorLog: piped logs are not supported; log to stderr or syslog'],
    ['ErrorLog syslog:local7', '2: ErrorLog: syslog facilities are not supported; write syslog'],
  ],
  LogLevel: [
    ['LogLevel loud', '2: LogLevel: unknown level "loud" (levels: emerg, alert, crit, error, warn, notice, info, debug, trace1)'],
    ['LogLevel warn nosuch:debug', '2: LogLevel: unknown module "nosuch" (modules: core, mpm, proxy, status, config, child, master, log, session, ssl, http2, proxy_wstunnel)'],
    ['LogLevel warn proxy:trace8', '2: LogLevel: unknown level "trace8" (levels: emerg, alert, crit, error, warn, notice, info, debug, trace1)'],
    ['LogLevel warn info', '2: LogLevel: takes one plain level, not both warn and info'],
  ],
  LogFormat: [
    ['LogFormat "%h %Z" mine', '2: LogFormat: unknown format directive %Z (docs/logging.md lists them)'],
    ['LogFormat "%h" json', '2: LogFormat: json names the built-in JSON format; choose another nickname'],
  ],
  CustomLog: [
    ['CustomLog /x.log', '2: CustomLog: takes at least two arguments: CustomLog file|stderr format|nickname'],
    ['CustomLog /x.log %h %s', '2: CustomLog: takes two arguments: CustomLog file|stderr format|nickname (quote a format with blanks)'],
    ['CustomLog syslog common', '2: CustomLog: writes to a file or stderr (under systemd stderr is the journal)'],
  ],
  TransferLog: [['TransferLog "|cronolog"', '2: TransferLog: piped logs are not supported; log to a file or stderr']],
  SetHandler: [['<Location /x>\nSetHandler cgi-script\n</Location>', '3: SetHandler: must be one of server-status, default-page (got "cgi-script")']],
  Proxy: [['<Proxy ftp://x/>\n</Proxy>', '2: <Proxy>: must be an http://, https:// or balancer:// URL, or * (got "ftp://x/")']],
  ProxyPass: [
    ['ProxyPass /x ftp://b/', '2: ProxyPass: must be an http://, https:// or balancer:// URL, or ! (got "ftp://b/")'],
    ['ProxyPass /x', '2: ProxyPass: takes a path and a URL outside <Location>: ProxyPass path url|! [key=value ...]'],
    ['ProxyPass x http://b/', '2: ProxyPass: must be a URL path starting with / (got "x")'],
    ['ProxyPass /x http://b/ retry', '2: ProxyPass: parameters are key=value (got "retry")'],
    ['ProxyPass /x ! retry=0', '2: ProxyPass: takes no parameters after !'],
    ["<Location /x>\nProxyPass /x http://b/\n</Location>", "3: ProxyPass: takes no path inside <Location> (the path is the Location's): ProxyPass url|! [key=value ...]"],
    ['ProxyPass /x not-a-url', '2: ProxyPass: must be an http://, https:// or balancer:// URL, or ! (got "not-a-url")'],
  ],
  ProxyPassReverse: [
    ['ProxyPassReverse /x', '2: ProxyPassReverse: takes two arguments outside <Location>: ProxyPassReverse path url'],
    ['ProxyPassReverse /x ftp://b/', '2: ProxyPassReverse: must be an http:// or https:// URL (got "ftp://b/")'],
    ['ProxyPassReverse /x balancer://b/', '2: ProxyPassReverse: takes the URL of each member, not a balancer:// URL'],
    ['<Location /x>\nProxyPassReverse /x http://b/\n</Location>', '3: ProxyPassReverse: takes one argument inside <Location>: ProxyPassReverse url'],
  ],
  ProxyPreserveHost: [['ProxyPreserveHost yes', '2: ProxyPreserveHost: must be On or Off (got "yes")']],
  ProxyTimeout: [['ProxyTimeout 0', '2: ProxyTimeout: must be longer than 0 (got "0")']],
  ProxyAddHeaders: [['ProxyAddHeaders 1', '2: ProxyAddHeaders: must be On or Off (got "1")']],
  ProxyTrustedAddresses: [
    ['ProxyTrustedAddresses lb.example', '2: ProxyTrustedAddresses: must be an IP address or a network such as 10.0.0.0/8 or fd00::/8 (got "lb.example")'],
    ['ProxyTrustedAddresses fd00::/129', '2: ProxyTrustedAddresses: must be an IP address or a network such as 10.0.0.0/8 or fd00::/8 (got "fd00::/129")'],
  ],
  LimitClients: [['LimitClients 0', '2: LimitClients: must be a positive integer or unlimited (got "0")']],
  LimitConnections: [['LimitConnections many', '2: LimitConnections: must be a positive integer or unlimited (got "many")']],
  LimitConnectionsPerClient: [['LimitConnectionsPerClient -1', '2: LimitConnectionsPerClient: must be a positive integer or unlimited (got "-1")']],
  LimitRequestsPerClient: [['LimitRequestsPerClient 1.5', '2: LimitRequestsPerClient: must be a positive integer or unlimited (got "1.5")']],
  LimitRequestBody: [['LimitRequestBody 10 MB', '2: LimitRequestBody: takes one argument: LimitRequestBody size|unlimited']],
  LimitRequestForm: [['LimitRequestForm 2X', '2: LimitRequestForm: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "2X")']],
  LimitUpload: [['LimitUpload -1', '2: LimitUpload: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "-1")']],
  LimitRequestHeader: [
    ['LimitRequestHeader 512', '2: LimitRequestHeader: must be at least 1024 bytes (got "512")'],
    ['LimitRequestHeader unlimited', '2: LimitRequestHeader: must be a size such as 4096, 512K, 64MB or 1G (got "unlimited")'],
  ],
  LimitRequestHeaderLines: [['LimitRequestHeaderLines 70000', '2: LimitRequestHeaderLines: must be an integer from 1 to 65535 or unlimited (got "70000")']],
  LimitUri: [['LimitUri long', '2: LimitUri: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "long")']],
  LimitKeepAlive: [['LimitKeepAlive 0', '2: LimitKeepAlive: must be a positive integer or unlimited (got "0")']],
  LimitResponseBody: [['LimitResponseBody 1T', '2: LimitResponseBody: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "1T")']],
  LimitChunk: [['LimitChunk 8k 16k', '2: LimitChunk: takes one argument: LimitChunk size|unlimited']],
  LimitPacket: [['LimitPacket 100', '2: LimitPacket: must be at least 1024 bytes (got "100")']],
  LimitSessions: [['LimitSessions none', '2: LimitSessions: must be a positive integer or unlimited (got "none")']],
  LimitStreams: [['LimitStreams 0', '2: LimitStreams: must be a positive integer (got "0")']],
  LimitWebSocketsMessage: [['LimitWebSocketsMessage 1.5.2', '2: LimitWebSocketsMessage: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "1.5.2")']],
  LimitWebSocketsPacket: [['LimitWebSocketsPacket -8K', '2: LimitWebSocketsPacket: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "-8K")']],
  LimitWebSocketsFrame: [['LimitWebSocketsFrame 4Q', '2: LimitWebSocketsFrame: must be a size such as 4096, 512K, 64MB, 1G or unlimited (got "4Q")']],
  LimitCache: [['LimitCache unlimited', '2: LimitCache: must be a size such as 4096, 512K, 64MB or 1G (got "unlimited")']],
  LimitCacheItem: [['LimitCacheItem -5', '2: LimitCacheItem: must be a size such as 4096, 512K, 64MB or 1G (got "-5")']],
  RequestReadTimeout: [
    ['RequestReadTimeout handshake=5', '2: RequestReadTimeout: "handshake=5": expected header=... or body=... (handshake applies once TLS is served)'],
    ['RequestReadTimeout header=20-10,MinRate=500', '2: RequestReadTimeout: "20-10,MinRate=500": the maximum must be longer than the first time'],
    ['RequestReadTimeout header=10-20', '2: RequestReadTimeout: "10-20": a maximum needs MinRate to stretch the time to it'],
    ['RequestReadTimeout body=5,Rate=3', '2: RequestReadTimeout: "Rate=3": the only option is MinRate=bytes-per-second'],
    ['RequestReadTimeout header=soon', '2: RequestReadTimeout: "soon": expected seconds or seconds-maxseconds, such as 20-40'],
    ['RequestReadTimeout body=5,MinRate=0', '2: RequestReadTimeout: must be a positive integer (got "0")'],
  ],
  Protocols: [
    ['Protocols h3 http/1.1', '2: Protocols: unknown protocol "h3": expected h2, h2c or http/1.1'],
    ['Protocols h2c', '2: Protocols: must include http/1.1 (HTTP/1.1 clients and h2c upgrades start with it)'],
  ],
  H2MaxResets: [
    ['H2MaxResets 0', '2: H2MaxResets: must be a positive integer (got "0")'],
    ['H2MaxResets 100 soon', '2: H2MaxResets: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "soon")'],
  ],
  ProxyWebsocketIdleTimeout: [['ProxyWebsocketIdleTimeout 0', '2: ProxyWebsocketIdleTimeout: must be longer than 0 (got "0")']],
  BalancerMember: [
    ['<Proxy balancer://b>\nBalancerMember http://h:1 loadfactor=0\n</Proxy>', '3: BalancerMember: must be an integer from 1 to 100 (got "0")'],
    ['<Proxy http://h:1/>\nBalancerMember http://h:1\n</Proxy>', '3: BalancerMember: belongs inside <Proxy balancer://name>'],
  ],
  ProxySet: [['<Proxy balancer://b>\nProxySet lbmethod=random\n</Proxy>', '3: ProxySet: unknown lbmethod "random" (lbmethods: byrequests, bybusyness)']],
  ProxyDNSCacheTimeout: [['ProxyDNSCacheTimeout soon', '2: ProxyDNSCacheTimeout: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "soon")']],
  ProxyRemote: [['ProxyRemote * socks5://p:1080', '2: ProxyRemote: remote-server must be http://[user:pass@]host:port (got "socks5://p:1080")']],
  SSLProxyCACertificateFile: [['SSLProxyCACertificateFile ""', '2: SSLProxyCACertificateFile: must not be empty']],
  SSLProxyMachineCertificateFile: [
    ['SSLProxyMachineCertificateFile a b', '2: SSLProxyMachineCertificateFile: takes one argument: SSLProxyMachineCertificateFile file-path'],
  ],
  SSLProxyCheckPeerName: [['SSLProxyCheckPeerName maybe', '2: SSLProxyCheckPeerName: must be On or Off (got "maybe")']],
  SSLProxyVerify: [['SSLProxyVerify optional', '2: SSLProxyVerify: must be one of none, require (got "optional")']],
  Session: [
    ['Session maybe', '2: Session: must be On or Off (got "maybe")'],
  ],
  SessionStore: [
    ['SessionStore redis', '2: SessionStore: unknown store "redis" (stores: shm, sqlite, mariadb)'],
  ],
  SessionCookieName: [
    ['SessionCookieName "bad name"', '2: SessionCookieName: cookie name must be a token (got "bad name")'],
    ['SessionCookieName sid "Path=/;Colour=red"', '2: SessionCookieName: "Colour=red": attributes are HttpOnly, Secure, SameSite=Strict|Lax|None, Path=/path, Domain=name'],
    ['SessionCookieName sid SameSite=None', '2: SessionCookieName: SameSite=None needs Secure (browsers drop such a cookie otherwise)'],
  ],
  SessionMaxAge: [
    ['SessionMaxAge 0', '2: SessionMaxAge: must be longer than 0 (got "0")'],
  ],
  SessionMaxLifetime: [
    ['SessionMaxLifetime forever', '2: SessionMaxLifetime: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "forever")'],
  ],
  SessionExpiryUpdateInterval: [
    ['SessionExpiryUpdateInterval -1', '2: SessionExpiryUpdateInterval: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "-1")'],
  ],
  SessionRenewOnAuthentication: [
    ['SessionRenewOnAuthentication sometimes', '2: SessionRenewOnAuthentication: must be On or Off (got "sometimes")'],
  ],
  SessionKeepOldCookieTimeout: [
    ['SessionKeepOldCookieTimeout soon', '2: SessionKeepOldCookieTimeout: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "soon")'],
  ],
  SessionOnInvalidCookie: [
    ['SessionOnInvalidCookie 410', '2: SessionOnInvalidCookie: must be one of new, 409 (got "410")'],
  ],
  SessionRequire: [
    ['<Location /a>\nSessionRequire 403\n</Location>', '3: SessionRequire: must be 401, off, a path or an http(s) URL to redirect to (got "403")'],
    ['SessionRequire 401', '2: SessionRequire: not allowed in server config; allowed in <Location>'],
  ],
  SessionRequestHeader: [
    ['SessionRequestHeader "bad name"', '2: SessionRequestHeader: attribute names are letters, digits, - and _ (got "bad name")'],
    ['SessionRequestHeader role "X Role"', '2: SessionRequestHeader: "X Role" is not a header name'],
  ],
  SessionCSRFProtect: [
    ['SessionCSRFProtect yes', '2: SessionCSRFProtect: must be On or Off (got "yes")'],
  ],
  SessionCSRFAllowedOrigin: [
    ['SessionCSRFAllowedOrigin https://a.example/path', '2: SessionCSRFAllowedOrigin: must be an origin such as https://app.example, without a path (got "https://a.example/path")'],
    ['SessionCSRFAllowedOrigin ftp://a.example', '2: SessionCSRFAllowedOrigin: must be an origin such as https://app.example, without a path (got "ftp://a.example")'],
  ],
  SessionMemorySize: [
    ['SessionMemorySize lots', '2: SessionMemorySize: must be a size such as 4096, 512K, 64MB or 1G (got "lots")'],
  ],
  SessionSQLiteFile: [
    ['SessionSQLiteFile a b', '2: SessionSQLiteFile: takes one argument: SessionSQLiteFile path'],
  ],
  SessionDBConnect: [
    ['SessionDBConnect mysql://u@h/db', '2: SessionDBConnect: must be a URL such as mariadb://user:password@host:3306/database (got "mysql://u@h/db")'],
    ['SessionDBConnect mariadb://u@h', '2: SessionDBConnect: the URL names no database (mariadb://user@host/database)'],
  ],
  SessionDBPoolSize: [
    ['SessionDBPoolSize 0', '2: SessionDBPoolSize: must be an integer from 1 to 1000 (got "0")'],
  ],
  SessionDBRetriesOnLockWaitTimeout: [
    ['SessionDBRetriesOnLockWaitTimeout -1', '2: SessionDBRetriesOnLockWaitTimeout: must be an integer from 0 to 100 (got "-1")'],
  ],
  SessionDBTimeout: [
    ['SessionDBTimeout 0', '2: SessionDBTimeout: must be longer than 0 (got "0")'],
  ],
  SSLEngine: [['SSLEngine optional', '2: SSLEngine: must be On or Off (got "optional")']],
  SSLCertificateFile: [['SSLCertificateFile ""', '2: SSLCertificateFile: must not be empty']],
  SSLCertificateKeyFile: [['SSLCertificateKeyFile ""', '2: SSLCertificateKeyFile: must not be empty']],
  SSLCertificateChainFile: [['SSLCertificateChainFile ""', '2: SSLCertificateChainFile: must not be empty']],
  SSLCACertificateFile: [['SSLCACertificateFile ""', '2: SSLCACertificateFile: must not be empty']],
  SSLVerifyClient: [['SSLVerifyClient always', '2: SSLVerifyClient: must be one of none, optional, require, optional_no_ca (got "always")']],
  SSLVerifyDepth: [['SSLVerifyDepth -1', '2: SSLVerifyDepth: must be an integer from 0 to 100 (got "-1")']],
  SSLProtocol: [['SSLProtocol +TLSv2', '2: SSLProtocol: unknown protocol "+TLSv2" (protocols: all, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)']],
  SSLCipherSuite: [['SSLCipherSuite DTLS AES', '2: SSLCipherSuite: protocol must be SSL or TLSv1.3 (got "DTLS")']],
  SSLHonorCipherOrder: [['SSLHonorCipherOrder yes', '2: SSLHonorCipherOrder: must be On or Off (got "yes")']],
  SSLClientCertHeaders: [['SSLClientCertHeaders subject=Bad:Name', '2: SSLClientCertHeaders: "Bad:Name" is not a header name']],
  SSLSessionCache: [['SSLSessionCache dbm:/x', '2: SSLSessionCache: must be none, shm:size (shm:512K) or shmcb:/path(size) (got "dbm:/x")']],
  SSLSessionCacheTimeout: [['SSLSessionCacheTimeout 0', '2: SSLSessionCacheTimeout: must be longer than 0 (got "0")']],
  SSLSessionTickets: [['SSLSessionTickets maybe', '2: SSLSessionTickets: must be On or Off (got "maybe")']],
  SSLSessionTicketKeyRotation: [['SSLSessionTicketKeyRotation soon', '2: SSLSessionTicketKeyRotation: must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got "soon")']],
  StateAware: [['StateAware sometimes', '2: StateAware: must be one of auto, on, off (got "sometimes")']],
  StateAwareSessionTimeout: [['StateAwareSessionTimeout 0', '2: StateAwareSessionTimeout: must be longer than 0 (got "0")']],
  StateAwareSessionLimit: [
    ['StateAwareSessionLimit 0', '2: StateAwareSessionLimit: must be an integer from 1 to 524288 (got "0")'],
    ['StateAwareSessionLimit many', '2: StateAwareSessionLimit: must be an integer from 1 to 524288 (got "many")'],
  ],
};

describe('every directive rejects a bad value with file:line: Directive: message', () => {
  it('has cases for every directive in the table', () => {
    assert.deepEqual(Object.keys(bad).sort(), directiveList.map((d) => d.name).sort());
  });

  for (const [name, cases] of Object.entries(bad)) {
    it(name, () => {
      for (const [config, message] of cases) {
        const file = path.join(root, `${name}.conf`);
        fs.writeFileSync(file, `Listen 8080\n${config}\n`);
        assert.throws(
          () => loadConfig({ file }),
          { message: `${file}:${message}` },
          config,
        );
      }
    });
  }
});

describe('wrong context', () => {
  it('names where the directive was and where it may go', () => {
    assert.throws(() => loadConfig({ text: 'Listen 8080\n<VirtualHost *>\nStartServers 2\nListen 81\n</VirtualHost>\n' }), {
      message: [
        '(embedded):3: StartServers: not allowed in <VirtualHost>; allowed in server config',
        '(embedded):4: Listen: not allowed in <VirtualHost>; allowed in server config',
      ].join('\n'),
    });
    assert.throws(() => loadConfig({ text: 'Listen 8080\nServerAlias a.example\n<Proxy *>\nProxyPass /x http://b/\n</Proxy>\n' }), {
      message: [
        '(embedded):2: ServerAlias: not allowed in server config; allowed in <VirtualHost>',
        '(embedded):4: ProxyPass: not allowed in <Proxy>; allowed in server config, <VirtualHost>, <Location>',
      ].join('\n'),
    });
  });
});

describe('values stored for settings', () => {
  const values = (section: Section): Array<[string, unknown]> => section.directives.map((d) => [d.name, d.value]);

  it('stores the parsed value of each directive', () => {
    const dir = fs.mkdtempSync(path.join(root, 'values-'));
    fs.mkdirSync(path.join(dir, 'srv'));
    const parsed = loadConfig({
      file: path.join(dir, 'main.conf'),
      text: [
        'ServerRoot srv', 'DefaultRuntimeDir run', 'Timeout 2min', 'KeepAlive off', 'KeepAliveTimeout 1500ms',
        'MaxKeepAliveRequests unlimited', 'MPM Worker', 'StartServers 3', 'MinSpareServers 4', 'MaxSpareServers 9',
        'MinSpareThreads 10', 'MaxSpareThreads 40', 'ServerLimit 8', 'ThreadLimit 32', 'ThreadsPerChild 16',
        'MaxClients 128', 'MaxRequestsPerChild 1000', 'AsyncRequestWorkerFactor 1.5', 'GracefulShutdownTimeout 1h',
        'Listen [::1]:8443 https', 'ListenBacklog 1024', 'User #1000', 'Group www-data', 'PidFile x.pid',
        'ErrorLog SYSLOG', 'LogLevel info proxy:debug', 'ServerName https://proxy.example:8443',
        'ProxyPass /app http://127.0.0.1:3000/app', 'ProxyPass /app/static !',
      ].join('\n'),
    });
    assert.deepEqual(values(parsed.root), [
      ['ServerRoot', path.join(dir, 'srv')],
      ['DefaultRuntimeDir', 'run'],
      ['Timeout', 120_000],
      ['KeepAlive', false],
      ['KeepAliveTimeout', 1500],
      ['MaxKeepAliveRequests', 0],
      ['MPM', 'worker'],
      ['StartServers', 3],
      ['MinSpareServers', 4],
      ['MaxSpareServers', 9],
      ['MinSpareThreads', 10],
      ['MaxSpareThreads', 40],
      ['ServerLimit', 8],
      ['ThreadLimit', 32],
      ['ThreadsPerChild', 16],
      ['MaxRequestWorkers', 128],
      ['MaxConnectionsPerChild', 1000],
      ['AsyncRequestWorkerFactor', 1.5],
      ['GracefulShutdownTimeout', 3_600_000],
      ['Listen', { host: '::1', port: 8443, protocol: 'https', text: '[::1]:8443 https' }],
      ['ListenBacklog', 1024],
      ['User', '#1000'],
      ['Group', 'www-data'],
      ['PidFile', 'x.pid'],
      ['ErrorLog', 'syslog'],
      ['LogLevel', { level: 'info', modules: { proxy: 'debug' } }],
      ['ServerName', 'https://proxy.example:8443'],
      ['ProxyPass', { path: '/app', target: 'http://127.0.0.1:3000/app', params: {} }],
      ['ProxyPass', { path: '/app/static', target: null, params: {} }],
    ]);
  });

  it('stores container and location values', () => {
    const parsed = loadConfig({
      text: 'Listen 8080\n<VirtualHost *:8080 [::1]:80 _default_>\nServerName a.example\nServerAlias b.example *.c.example\n<Location /api>\nProxyPass https://api.internal/v1/\n</Location>\n<Location /off>\nProxyPass !\n</Location>\n</VirtualHost>\n',
    });
    const host = parsed.root.sections[0]!;
    assert.equal(host.arg, '*:8080 [::1]:80 _default_');
    assert.deepEqual(values(host), [
      ['ServerName', 'a.example'],
      ['ServerAlias', ['b.example', '*.c.example']],
    ]);
    assert.deepEqual(host.sections.map(values), [
      [['ProxyPass', { path: '/api', target: 'https://api.internal/v1/', params: {} }]],
      [['ProxyPass', { path: '/off', target: null, params: {} }]],
    ]);
  });
});
