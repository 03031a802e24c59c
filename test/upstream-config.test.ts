// The upstream layer without a daemon: what the balancer directives and worker parameters
// resolve to, the errors they give, the shared health table's claims, sticky session parsing
// and the DNS cache's lookups.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, resolveSettings } from '../src/config';
import type { Settings } from '../src/config/types';
import { sessionMember } from '../src/proxy/balancer-sticky';
import { DnsCache } from '../src/proxy/dns-cache';
import { HC_FAILED, HealthTable, IN_ERROR, healthHeaderLayout, memberLayout } from '../src/shm/health';
import { sleep } from './helpers/daemon';

const settingsOf = (text: string): Settings => resolveSettings(loadConfig({ file: '/etc/mpmproxy/test.conf', text: `Listen 8080\n${text}` }), { cpus: 2, uid: 0 });

function errorOf(text: string): string {
  try {
    settingsOf(text);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('the configuration loaded');
}

describe('balancer configuration', () => {
  it('resolves members with Apache defaults, ProxySet for all members, and the parameters of each', () => {
    const s = settingsOf(
      [
        'ThreadsPerChild 16',
        '<Proxy balancer://App>',
        '  ProxySet lbmethod=bybusyness stickysession=JSESSIONID|jsessionid hcmethod=HEAD hcuri=/alive hcinterval=5',
        '  BalancerMember http://10.0.0.1:8080 route=a loadfactor=3 max=4 retry=10',
        '  BalancerMember http://10.0.0.2:8080 route=b status=+H timeout=5 connectiontimeout=500ms ttl=30 keepalive=On hcexpect=200-204,301',
        '</Proxy>',
        'ProxyPass /app/ balancer://app/ nofailover=On',
      ].join('\n'),
    );
    const [b] = s.upstreams.balancers;
    assert.deepEqual(
      { name: b.name, lbmethod: b.lbmethod, sticky: b.sticky, sep: b.stickySeparator, noFailover: b.noFailover },
      { name: 'balancer://app', lbmethod: 'bybusyness', sticky: { cookie: 'JSESSIONID', param: 'jsessionid' }, sep: '.', noFailover: true },
    );
    const [a, standby] = b.members;
    assert.deepEqual(a, {
      name: 'http://10.0.0.1:8080',
      origin: 'http://10.0.0.1:8080',
      key: 'balancer://app|http://10.0.0.1:8080',
      max: 4,
      timeout: 60_000,
      connectTimeout: 60_000,
      ttl: null,
      tcpKeepAlive: false,
      disableReuse: false,
      retry: 10_000,
      dnsTtl: 3_600_000,
      loadFactor: 3,
      route: 'a',
      status: { standby: false, stopped: false, drain: false, ignoreErrors: false },
      health: { method: 'HEAD', uri: '/alive', interval: 5000, passes: 1, fails: 1, expect: [[200, 399]] },
      tls: null,
      remote: null,
    });
    assert.deepEqual(
      [standby.max, standby.timeout, standby.connectTimeout, standby.ttl, standby.tcpKeepAlive, standby.retry, standby.status.standby],
      [16, 5000, 500, 30_000, true, 60_000, true],
    );
    assert.deepEqual(standby.health?.expect, [[200, 204], [301, 301]]);
  });

  it('gives each ProxyPass origin one backend: ProxyPass parameters over ProxySet in <Proxy url>', () => {
    const s = settingsOf(
      [
        'MPM prefork',
        'ProxyDNSCacheTimeout 10min',
        'ProxyPass /a/ http://127.0.0.1:3000/a/ max=2 disablereuse=On',
        'ProxyPass /b/ http://127.0.0.1:3000/b/',
        'ProxyPass /c/ https://api.example.com/ addressttl=5',
        '<Proxy http://127.0.0.1:3000/>',
        '  ProxySet retry=0 max=9',
        '</Proxy>',
        'ProxyRemote https://api.example.com http://me:s%40cret@proxy.example.com:3128',
      ].join('\n'),
    );
    assert.equal(s.upstreams.dnsCacheTimeout, 600_000);
    const [local, api] = s.upstreams.backends;
    assert.deepEqual([local.origin, local.max, local.disableReuse, local.retry, local.dnsTtl], ['http://127.0.0.1:3000', 2, true, 0, 600_000]);
    assert.deepEqual([api.origin, api.max, api.dnsTtl, api.remote], [
      'https://api.example.com',
      1,
      5000,
      { url: 'http://proxy.example.com:3128', credentials: 'me:s@cret' },
    ]);
    assert.deepEqual(api.tls, { ca: null, cert: null, key: null, checkPeerName: true, verify: true });
  });

  for (const [what, text, message] of [
    [
      'an unknown parameter, with the nearest name',
      '<Proxy balancer://a>\n BalancerMember http://h:1 loadfacter=2\n</Proxy>',
      /test\.conf:3: BalancerMember: unknown parameter loadfacter= \(did you mean loadfactor=\?\)/,
    ],
    ['a balancer parameter on a member', '<Proxy balancer://a>\n BalancerMember http://h:1 lbmethod=byrequests\n</Proxy>', /lbmethod= is a balancer parameter/],
    ['BalancerMember outside a balancer', '<Proxy http://h:1/>\n BalancerMember http://h:1\n</Proxy>', /BalancerMember: belongs inside <Proxy balancer:\/\/name>/],
    ['a member URL with a path', '<Proxy balancer://a>\n BalancerMember http://h:1/app\n</Proxy>', /must name only scheme, host and port/],
    ['an unsupported lbmethod', '<Proxy balancer://a>\n ProxySet lbmethod=bytraffic\n BalancerMember http://h:1\n</Proxy>', /unknown lbmethod "bytraffic"/],
    ['an unsupported status letter', '<Proxy balancer://a>\n BalancerMember http://h:1 status=+R\n</Proxy>', /status= letter R is not supported/],
    ['a bad hcexpect', '<Proxy balancer://a>\n BalancerMember http://h:1 hcexpect=2xx\n</Proxy>', /hcexpect= takes status codes/],
    ['a ProxyPass to a balancer nobody defines', 'ProxyPass /x/ balancer://nowhere/', /test\.conf:2: ProxyPass: balancer:\/\/nowhere is not defined/],
    ['a balancer without members', '<Proxy balancer://empty>\n</Proxy>\nProxyPass /x/ balancer://empty/', /test\.conf:2: <Proxy>: balancer:\/\/empty has no BalancerMember/],
    ['stickysession without routes', '<Proxy balancer://a>\n ProxySet stickysession=SID\n BalancerMember http://h:1\n</Proxy>', /stickysession= but no member has route=/],
    [
      'two ProxyPass lines giving one backend different parameters',
      'ProxyPass /a/ http://h:1/ max=2\nProxyPass /b/ http://h:1/ max=3',
      /test\.conf:(2|3): ProxyPass: http:\/\/h:1 has other parameters at/,
    ],
    ['a worker parameter on a ProxyPass to a balancer', '<Proxy balancer://a>\n BalancerMember http://h:1\n</Proxy>\nProxyPass /a/ balancer://a/ max=2', /max= is a worker parameter/],
    ['a missing CA file', 'SSLProxyCACertificateFile /nonexistent/ca.pem', /test\.conf:2: SSLProxyCACertificateFile: cannot read \/nonexistent\/ca\.pem/],
    ['ProxyRemote to an https proxy', 'ProxyRemote * https://proxy:3128', /remote-server must be http:\/\//],
  ] as const) {
    it(`refuses ${what}`, () => assert.match(errorOf(text), message));
  }
});

describe('health table', () => {
  /** The tables of the comment at the top of health.ts, as offsets and sizes. */
  function documented(): Map<string, { size: number; offsets: Record<string, number> }> {
    const source = readFileSync(path.join(__dirname, '..', '..', 'src', 'shm', 'health.ts'), 'utf8');
    const tables = new Map<string, { size: number; offsets: Record<string, number> }>();
    let current: { size: number; offsets: Record<string, number> } | undefined;
    for (const line of source.split('\n')) {
      const heading = /^\/\/\s+(Header|Member record): (\d+) bytes/.exec(line);
      if (heading) tables.set(heading[1], (current = { size: Number(heading[2]), offsets: {} }));
      const row = /^\/\/\s+\|\s*(\d+)\s*\|\s*\S+\s*\|\s*(\w+)\s*\|/.exec(line);
      if (row && current) current.offsets[row[2]] = Number(row[1]);
    }
    return tables;
  }

  it('is laid out as its comment documents', () => {
    const tables = documented();
    assert.deepEqual(tables.get('Header'), { size: healthHeaderLayout.size, offsets: { ...healthHeaderLayout.offsets } });
    assert.deepEqual(tables.get('Member record'), { size: memberLayout.size, offsets: { ...memberLayout.offsets } });
  });

  const twoViews = () => {
    const buffer = new SharedArrayBuffer(HealthTable.byteLength(8));
    const master = HealthTable.create(buffer, 8);
    master.assign([{ key: 'a', checked: true }, { key: 'b', checked: false }]);
    return { master, child: HealthTable.attach(buffer) };
  };

  it('lets one caller claim each probe interval and each retry', async () => {
    const { master, child } = twoViews();
    const slot = child.find('a');
    assert.equal(slot, master.find('a'));
    assert.deepEqual([master.claimProbe(slot, 2), child.claimProbe(slot, 2)], [true, false]);
    await sleep(250);
    assert.deepEqual([child.claimProbe(slot, 2), master.claimProbe(slot, 2)], [true, false]);
    assert.equal(master.markError(slot, 1), true, 'the first failure takes it out');
    assert.equal(child.markError(slot, 1), false, 'a second failure is no change');
    assert.equal(child.flags(slot), IN_ERROR);
    assert.equal(child.claimRetry(slot, 1), false, 'not before retry=');
    await sleep(150);
    assert.deepEqual([child.claimRetry(slot, 1), master.claimRetry(slot, 1)], [true, false]);
    assert.deepEqual([master.clearError(slot), child.clearError(slot)], [true, false]);
  });

  it('takes a member out after hcfails failed probes and back after hcpasses good ones', () => {
    const { child } = twoViews();
    const slot = child.find('a');
    assert.equal(child.probeFailed(slot, 2), false);
    assert.equal(child.probeFailed(slot, 2), true);
    assert.equal(child.flags(slot), HC_FAILED);
    assert.equal(child.probePassed(slot, 2), false);
    assert.equal(child.probePassed(slot, 2), true);
    assert.equal(child.flags(slot), 0);
  });

  it('keeps the records of kept members across a reload, clears checks no longer configured, reuses records last', () => {
    const { master, child } = twoViews();
    const a = master.find('a');
    const b = master.find('b');
    master.probeFailed(a, 1);
    master.markError(b, 100);
    master.assign([{ key: 'b', checked: false }, { key: 'c', checked: false }, { key: 'a', checked: false }]);
    assert.deepEqual([child.find('a'), child.find('b')], [a, b]);
    assert.equal(child.flags(a), 0, 'a lost its health check, and so its HC_FAILED');
    assert.equal(child.flags(b), IN_ERROR, 'b stays out until its retry');
    assert.equal(child.find('c'), 2);
    const long = `balancer://x|https://${'h'.repeat(200)}.example:8443`;
    master.assign([{ key: long, checked: false }, { key: `${long}1`, checked: false }]);
    assert.notEqual(child.find(long), child.find(`${long}1`), 'keys longer than the field stay apart');
    assert.equal(child.find(long), 3);
  });
});

describe('sticky sessions', () => {
  const members = [{ spec: { route: 'r1' } }, { spec: { route: 'r2' } }, { spec: { route: 'r22' } }];
  const sticky = { cookie: 'JSESSIONID', param: 'jsessionid' };
  const req = (url: string, cookie?: string) => ({ url, headers: cookie === undefined ? {} : { cookie } }) as http.IncomingMessage;
  const routeOf = (r: http.IncomingMessage, sep = '.') => sessionMember(r, sticky, sep, members)?.spec.route ?? null;

  it('reads the route after the separator of the cookie, or of the URL parameter first', () => {
    assert.equal(routeOf(req('/a', 'JSESSIONID=abc.r2')), 'r2');
    assert.equal(routeOf(req('/a', 'x=1; JSESSIONID="abc.r22"; y=2')), 'r22');
    assert.equal(routeOf(req('/a;jsessionid=abc.r1?q=1', 'JSESSIONID=abc.r2')), 'r1');
    assert.equal(routeOf(req('/a?x=1&jsessionid=abc.r2')), 'r2');
    assert.equal(routeOf(req('/a', 'JSESSIONID=abc:r1'), ':'), 'r1');
  });

  it('names no member for other cookies, unknown routes or ids without a route', () => {
    assert.equal(routeOf(req('/a', 'XJSESSIONID=abc.r1')), null);
    assert.equal(routeOf(req('/a', 'JSESSIONID=abc.r3')), null);
    assert.equal(routeOf(req('/a', 'JSESSIONID=abc')), null);
    assert.equal(routeOf(req('/a?notjsessionid=abc.r1')), null);
    assert.equal(routeOf(req('/a')), null);
  });
});

describe('DNS cache', () => {
  function counting(answers: Array<string | null>) {
    const calls: string[] = [];
    const resolve = (host: string, cb: (err: NodeJS.ErrnoException | null, a: Array<{ address: string; family: number }>) => void) => {
      calls.push(host);
      const next = answers.shift() ?? null;
      setImmediate(() =>
        next === null ? cb(Object.assign(new Error('lookup failed'), { code: 'EAI_AGAIN' }), []) : cb(null, [{ address: next, family: 4 }]),
      );
    };
    return { calls, cache: new DnsCache(resolve) };
  }
  const lookup = (fn: ReturnType<DnsCache['lookupFor']>, all = false) =>
    new Promise<string>((resolve, reject) =>
      fn('backend.example', { all }, (err, address) => (err ? reject(err) : resolve(Array.isArray(address) ? address.map((a) => a.address).join() : address))),
    );

  it('resolves once per TTL, answers at once from the old address while refreshing', async () => {
    const { calls, cache } = counting(['10.0.0.1', '10.0.0.2']);
    const fn = cache.lookupFor(150);
    assert.deepEqual(await Promise.all([lookup(fn), lookup(fn, true), lookup(fn)]), ['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    assert.equal(calls.length, 1);
    await sleep(200);
    assert.equal(await lookup(fn), '10.0.0.1', 'stale answer while the refresh runs');
    await sleep(20);
    assert.equal(await lookup(fn), '10.0.0.2');
    assert.equal(calls.length, 2);
  });

  it('keeps the old address when a refresh fails, and fails connections it never resolved', async () => {
    const { calls, cache } = counting([null, '10.0.0.1', null]);
    const fn = cache.lookupFor(50);
    await assert.rejects(lookup(fn), /lookup failed/);
    assert.equal(await lookup(fn), '10.0.0.1');
    await sleep(80);
    await lookup(fn);
    await sleep(20);
    assert.equal(await lookup(fn), '10.0.0.1');
    assert.equal(calls.length, 3);
  });
});
