// The proxy directives as the configuration reads them: ProxyPass parameters kept for the
// upstreams, ProxyPassReverse, and the options merged from server, virtual host and <Location>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, resolveSettings } from '../src/config';
import { sectionRoutes } from '../src/config/routes';
import { noRouteSession } from '../src/config/session';
import type { ProxyRoute, Route, Settings } from '../src/config/types';

const settingsOf = (...lines: string[]): Settings =>
  resolveSettings(loadConfig({ text: ['Listen 8080', ...lines].join('\n') }), { cpus: 2, uid: 1000 });

const proxied = (routes: Route[], prefix: string): ProxyRoute => {
  const r = routes.find((x) => x.prefix === prefix);
  assert.ok(r?.kind === 'proxy', `${prefix} is a proxied route`);
  return r;
};

const errorsOf = (...lines: string[]): string[] => {
  try {
    loadConfig({ text: ['Listen 8080', ...lines].join('\n') });
  } catch (err) {
    return (err as Error).message.split('\n');
  }
  return [];
};

describe('ProxyPass', () => {
  it('keeps key=value parameters as written for the upstreams, keys in lower case, with the line they are on', () => {
    const root = loadConfig({ text: ['Listen 8080', 'ProxyPass /a/ http://b/ retry=0 Timeout=5 route=x=y', '<Location /l>', 'ProxyPass http://c/ max=', '</Location>'].join('\n') }).root;
    assert.deepEqual(sectionRoutes(root).routes, [
      { prefix: '/a/', kind: 'proxy', target: 'http://b/', params: { retry: '0', timeout: '5', route: 'x=y' }, file: '(embedded)', line: 2 },
      { prefix: '/l', kind: 'proxy', target: 'http://c/', params: { max: '' }, file: '(embedded)', line: 4 },
    ]);
  });

  it('refuses words that are not key=value, parameters after !, and a path inside <Location>', () => {
    assert.deepEqual(errorsOf('ProxyPass /a http://b/ nocanon', 'ProxyPass /b ! retry=1', '<Location /x>', 'ProxyPass /x http://b/', '</Location>', 'ProxyPass /c'), [
      '(embedded):2: ProxyPass: parameters are key=value (got "nocanon")',
      '(embedded):3: ProxyPass: takes no parameters after !',
      "(embedded):5: ProxyPass: takes no path inside <Location> (the path is the Location's): ProxyPass url|! [key=value ...]",
      '(embedded):7: ProxyPass: takes a path and a URL outside <Location>: ProxyPass path url|! [key=value ...]',
    ]);
  });
});

describe('the other proxy directives', () => {
  it('check their values', () => {
    assert.deepEqual(
      errorsOf(
        'ProxyPassReverse /a',
        'ProxyPassReverse /a balancer://x/',
        'ProxyPassReverse /a ftp://x/',
        '<Location /l>',
        'ProxyPassReverse /l http://b/',
        'ProxyTimeout 5',
        '</Location>',
        'ProxyPreserveHost maybe',
        'ProxyAddHeaders yes',
        'ProxyTimeout 0',
        'ProxyTrustedAddresses 10.0.0.0/8 10.0.0.0/33 proxy.example',
      ),
      [
        '(embedded):2: ProxyPassReverse: takes two arguments outside <Location>: ProxyPassReverse path url',
        '(embedded):3: ProxyPassReverse: takes the URL of each member, not a balancer:// URL',
        '(embedded):4: ProxyPassReverse: must be an http:// or https:// URL (got "ftp://x/")',
        '(embedded):6: ProxyPassReverse: takes one argument inside <Location>: ProxyPassReverse url',
        '(embedded):7: ProxyTimeout: not allowed in <Location>; allowed in server config, <VirtualHost>',
        '(embedded):9: ProxyPreserveHost: must be On or Off (got "maybe")',
        '(embedded):10: ProxyAddHeaders: must be On or Off (got "yes")',
        '(embedded):11: ProxyTimeout: must be longer than 0 (got "0")',
        '(embedded):12: ProxyTrustedAddresses: must be an IP address or a network such as 10.0.0.0/8 or fd00::/8 (got "10.0.0.0/33")',
      ],
    );
  });

  it('are merged as httpd merges them: server, virtual host, then each <Location> covering the path', () => {
    const s = settingsOf(
      'Timeout 20',
      'ProxyPreserveHost On',
      'ProxyPass /a/ http://b/',
      'ProxyPass /c/ http://c/',
      'ProxyPassReverse /a/ http://b/',
      '<Location /a/>',
      'ProxyAddHeaders Off',
      'ProxyPassReverse http://b2/',
      '</Location>',
      '<VirtualHost *:8080>',
      'ProxyTimeout 5',
      'ProxyPreserveHost Off',
      'ProxyPassReverse /v/ http://v/',
      '</VirtualHost>',
    );
    assert.deepEqual(proxied(s.routes, '/a/').proxy, {
      preserveHost: true,
      addHeaders: false,
      timeout: 20_000,
      reverse: [{ path: '/a/', url: 'http://b/' }, { path: '/a/', url: 'http://b2/' }],
      session: noRouteSession,
      stateAware: 'auto',
    });
    assert.deepEqual(proxied(s.routes, '/c/').proxy, {
      preserveHost: true,
      addHeaders: true,
      timeout: 20_000,
      reverse: [{ path: '/a/', url: 'http://b/' }],
      session: noRouteSession,
      stateAware: 'auto',
    });
    // The virtual host inherits /a/ and /c/, with its own options under the <Location>'s.
    const host = s.virtualHosts[0].routes;
    assert.deepEqual(proxied(host, '/a/').proxy, {
      preserveHost: false,
      addHeaders: false,
      timeout: 5_000,
      reverse: [{ path: '/a/', url: 'http://b/' }, { path: '/v/', url: 'http://v/' }, { path: '/a/', url: 'http://b2/' }],
      session: noRouteSession,
      stateAware: 'auto',
    });
  });

  it('give a <Location> that only sets options below a ProxyPass a route of its own to the same backend', () => {
    const s = settingsOf('ProxyPass /app/ http://b/base/ retry=1', 'ProxyPass /app/static/ !', '<Location /app/admin>', 'ProxyPreserveHost On', '</Location>', '<Location /app/static/x>', 'ProxyPreserveHost On', '</Location>');
    assert.deepEqual(
      s.routes.map((r) => [r.prefix, r.kind]),
      [['/app/static/', 'exclude'], ['/app/admin', 'proxy'], ['/app/', 'proxy']],
    );
    const admin = proxied(s.routes, '/app/admin');
    assert.deepEqual([admin.target, admin.params, admin.line, admin.proxy.preserveHost], ['http://b/base/admin', { retry: '1' }, 2, true]);
    assert.equal(proxied(s.routes, '/app/').proxy.preserveHost, false);
  });

  it('ProxyTimeout defaults to Timeout; ProxyTrustedAddresses adds up in a section, a virtual host replaces the server’s list', () => {
    const s = settingsOf(
      'Timeout 7',
      'ProxyPass / http://b/',
      'ProxyTrustedAddresses 10.0.0.0/8',
      'ProxyTrustedAddresses ::1 192.168.1.1',
      '<VirtualHost *:8080>',
      'ProxyTrustedAddresses fd00::/8',
      '</VirtualHost>',
      '<VirtualHost *:8081>',
      '</VirtualHost>',
    );
    assert.equal(proxied(s.routes, '/').proxy.timeout, 7_000);
    assert.deepEqual(
      [s.trustedAddresses, s.virtualHosts[0].trustedAddresses, s.virtualHosts[1].trustedAddresses],
      [['10.0.0.0/8', '::1', '192.168.1.1'], ['fd00::/8'], ['10.0.0.0/8', '::1', '192.168.1.1']],
    );
  });
});
