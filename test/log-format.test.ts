// Access-log formats without a daemon: each format directive against a known request, the
// escaping, the JSON format, the configuration that names formats (errors at file:line), and
// the documentation of every letter, JSON field and LogLevel module.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { loadConfig, resolveSettings } from '../src/config';
import { logModuleNames } from '../src/config/log-level';
import { ConfigErrors } from '../src/errors';
import type { Exchange } from '../src/log/exchange';
import { formatItems } from '../src/log/format-items';
import { jsonFormat } from '../src/log/json-format';
import { compileLogFormat, predefinedFormats } from '../src/log/log-format';
import { strftimeConversions } from '../src/log/log-time';
import { repoRoot } from './helpers/daemon';

const logging = fs.readFileSync(path.join(repoRoot, 'docs', 'logging.md'), 'utf8');

// 2026-03-04 05:06:07.089 local time.
const start = new Date(2026, 2, 4, 5, 6, 7, 89).getTime();

function exchange(over: Partial<Exchange> = {}, headers: http.IncomingHttpHeaders = {}): Exchange {
  const req = {
    method: 'GET',
    url: '/app/items?id=42',
    httpVersion: '1.1',
    headers: { host: 'www.example.com:8080', referer: 'http://ref/', 'user-agent': 'ua/1.0', ...headers },
  } as unknown as http.IncomingMessage;
  const res = { _header: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Two: a\r\n\r\n' } as unknown as http.ServerResponse;
  const socket = { remoteAddress: '::ffff:10.1.2.3', remotePort: 40000, localAddress: '127.0.0.1', localPort: 8080 } as net.Socket;
  return {
    req,
    res,
    socket,
    status: 200,
    startMs: start,
    durationUs: 2_345_678,
    bytesOut: 1234,
    bodyBytes: 1000,
    serverName: 'www.example.com',
    connection: '+',
    ...over,
  };
}

const line = (format: string, x = exchange()): string => compileLogFormat(format).line(x);

function zone(d: Date): string {
  const east = -d.getTimezoneOffset();
  const abs = Math.abs(east);
  return `${east < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

const clf = `[04/Mar/2026:05:06:07 ${zone(new Date(start))}]`;

describe('format directives', () => {
  it('writes common and combined as httpd does', () => {
    assert.equal(line(predefinedFormats.common), `10.1.2.3 - - ${clf} "GET /app/items?id=42 HTTP/1.1" 200 1000\n`);
    assert.equal(
      line(predefinedFormats.combined),
      `10.1.2.3 - - ${clf} "GET /app/items?id=42 HTTP/1.1" 200 1000 "http://ref/" "ua/1.0"\n`,
    );
  });

  it('gives each letter its value', () => {
    const cases: Array<[string, string]> = [
      ['%a %{c}a %h', '10.1.2.3 10.1.2.3 10.1.2.3'],
      ['%A', '127.0.0.1'],
      ['%b %B', '1000 1000'],
      ['%{session}C|%{x}C', 'abc|-'],
      ['%D', '2345678'],
      ['%H %m', 'HTTP/1.1 GET'],
      ['%{Referer}i %{X-Missing}i', 'http://ref/ -'],
      ['%l', '-'],
      ['%{content-type}o %{X-Two}o %{X-None}o', 'text/plain a -'],
      ['%O', '1234'],
      ['%p %{local}p %{canonical}p %{remote}p', '8080 8080 8080 40000'],
      ['%P %{pid}P %{tid}P', `${process.pid} ${process.pid} ${threadId}`],
      ['%q|%U', '?id=42|/app/items'],
      ['%r', 'GET /app/items?id=42 HTTP/1.1'],
      ['%s %>s %<s', '200 200 200'],
      ['%t', clf],
      ['%T %{s}T %{ms}T %{us}T', '2 2 2345 2345678'],
      ['%u', 'alice'],
      ['%v %V', 'www.example.com www.example.com'],
      ['%X', '+'],
      ['100%% done', '100% done'],
    ];
    const x = exchange({}, { cookie: 'a=1; session=abc; b=2', authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` });
    for (const [format, expected] of cases) assert.equal(line(format, x), `${expected}\n`, format);
  });

  it('shows - for a body of 0 bytes with %b, 0 with %B, and the states of %X', () => {
    assert.equal(line('%b %B', exchange({ bodyBytes: 0 })), '- 0\n');
    assert.equal(line('%X', exchange({ connection: '-' })), '-\n');
    assert.equal(line('%X', exchange({ connection: 'X' })), 'X\n');
  });

  it('formats %{...}t with strftime and Apache units, at the start or the end of the request', () => {
    assert.equal(line('%{%Y-%m-%d %H:%M:%S %z}t'), `2026-03-04 05:06:07 ${zone(new Date(start))}\n`);
    assert.equal(line('%{%a %A %b %B %d %e %j %y %D %F %R %T %I %p %u %w %%}t'), 'Wed Wednesday Mar March 04  4 063 26 03/04/26 2026-03-04 05:06 05:06:07 05 AM 3 3 %\n');
    assert.equal(line('%{sec}t %{msec}t %{msec_frac}t %{usec_frac}t'), `${Math.floor(start / 1000)} ${start} 089 089000\n`);
    assert.equal(line('%{end:sec}t %{begin:sec}t'), `${Math.floor(start / 1000) + 2} ${Math.floor(start / 1000)}\n`);
  });

  it('logs a value only for the listed statuses with %400,501{...}i, or all but them with %!', () => {
    assert.equal(line('%200,304{Referer}i %!200{Referer}i'), 'http://ref/ -\n');
    assert.equal(line('%404{Referer}i', exchange({ status: 404 })), 'http://ref/\n');
  });

  it('keeps literal text, with \\n and \\t as httpd reads them', () => {
    assert.equal(line('a\\tb\\n"%s"'), 'a\tb\n"200"\n');
  });

  it('escapes what a client sends: quotes, backslashes, control characters and other bytes', () => {
    const x = exchange({}, { 'user-agent': 'a"b\\c\td\x01\xe9' });
    assert.equal(line('%{User-Agent}i'), 'ua/1.0\n');
    assert.equal(line('"%{User-Agent}i"', x), '"a\\"b\\\\c\\td\\x01\\xe9"\n');
    const url = exchange({ req: { ...exchange().req, url: '/a"b?c=\n' } as http.IncomingMessage });
    assert.equal(line('%r|%U|%q', url), 'GET /a\\"b?c=\\n HTTP/1.1|/a\\"b|?c=\\n\n');
  });

  it('logs a request refused before it was read with dashes', () => {
    const x = exchange({ req: null, res: null, status: 400, bodyBytes: 0 });
    assert.equal(line('%h "%r" %>s %b %m %U%q %{Referer}i %u %H %V %{x}o', x), '10.1.2.3 "-" 400 - - - - - - www.example.com -\n');
  });

  it('names the Host the client asked for with %V, without its port', () => {
    assert.equal(line('%V', exchange({}, { host: '[::1]:8080' })), '[::1]\n');
    assert.equal(line('%V', exchange({}, { host: '[::1]' })), '[::1]\n');
  });
});

describe('the JSON format', () => {
  it('writes every field, in a fixed order, null when absent', () => {
    const x = exchange({}, { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` });
    const text = jsonFormat()(x);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(text), {
      time: new Date(start).toISOString(),
      client: '10.1.2.3',
      client_port: 40000,
      server: 'www.example.com',
      port: 8080,
      method: 'GET',
      url: '/app/items?id=42',
      protocol: 'HTTP/1.1',
      host: 'www.example.com:8080',
      status: 200,
      body_bytes: 1000,
      bytes_sent: 1234,
      duration_us: 2345678,
      referer: 'http://ref/',
      user_agent: 'ua/1.0',
      user: 'bob',
      connection: 'keep-alive',
      pid: process.pid,
    });
    const refused = JSON.parse(jsonFormat()(exchange({ req: null, res: null, status: 400, connection: 'X' })));
    for (const field of ['method', 'url', 'protocol', 'host', 'referer', 'user_agent', 'user']) assert.equal(refused[field], null, field);
    assert.equal(refused.connection, 'aborted');
  });

  it('stays valid JSON whatever a client sends', () => {
    const x = exchange({}, { 'user-agent': 'a"b\\c\n\u0001\xe9' });
    assert.equal(JSON.parse(jsonFormat()(x)).user_agent, 'a"b\\c\n\u0001\xe9');
  });
});

describe('docs/logging.md', () => {
  it('describes every format directive, strftime conversion and nickname', () => {
    for (const letter of Object.keys(formatItems)) assert.match(logging, new RegExp(`^\\| \`%(\\{\\w+\\})?${letter}\``, 'm'), `%${letter}`);
    for (const c of strftimeConversions) assert.ok(logging.includes(`\`%${c}\``), `strftime %${c}`);
    for (const [name, format] of Object.entries(predefinedFormats)) {
      assert.ok(logging.includes(`| \`${name}\` | \`${format}\` |`), name);
    }
  });

  it('describes every JSON field', () => {
    for (const field of Object.keys(JSON.parse(jsonFormat()(exchange())))) assert.ok(logging.includes(`| \`${field}\` |`), field);
  });

  it('describes every LogLevel module, and the code logs under no other', () => {
    for (const m of logModuleNames) assert.ok(logging.includes(`| \`${m}\` |`), m);
    const used = new Set<string>();
    for (const file of sources(path.join(repoRoot, 'src'))) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/\blogs?\('(\w+)'/g)) used.add(m[1]);
    }
    assert.deepEqual([...used].filter((m) => !(logModuleNames as readonly string[]).includes(m)), []);
  });
});

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('LogFormat, CustomLog and TransferLog', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-logfmt-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'main.conf');
  const settingsOf = (text: string) => resolveSettings(loadConfig({ file, text: `Listen 8080\nServerRoot ${dir}\n${text}` }), { cpus: 1, uid: 0 });
  const errorsOf = (text: string): string[] => {
    try {
      settingsOf(text);
    } catch (err) {
      if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
      throw err;
    }
    return [];
  };
  const text = (t: string) => ({ kind: 'text' as const, text: t });

  it('resolves nicknames (in any case, defined before or after use), inline formats, json and relative paths', () => {
    const s = settingsOf(
      [
        'CustomLog logs/a.log MINE',
        'CustomLog /var/log/b.log combined',
        'CustomLog stderr "%h %>s"',
        'CustomLog /var/log/c.json json',
        'LogFormat "%U %s" mine',
      ].join('\n'),
    );
    assert.deepEqual(s.accessLogs, [
      { target: path.join(dir, 'logs/a.log'), format: text('%U %s') },
      { target: '/var/log/b.log', format: text(predefinedFormats.combined) },
      { target: 'stderr', format: text('%h %>s') },
      { target: '/var/log/c.json', format: { kind: 'json' } },
    ]);
  });

  it('writes TransferLog in the last LogFormat without a nickname, else common', () => {
    assert.deepEqual(settingsOf('TransferLog /t.log').accessLogs, [{ target: '/t.log', format: text(predefinedFormats.common) }]);
    assert.deepEqual(settingsOf('TransferLog /t.log\nLogFormat "%h"\nLogFormat combined').accessLogs, [
      { target: '/t.log', format: text(predefinedFormats.combined) },
    ]);
  });

  it('gives a virtual host its own logs, or the main server’s, with its own nicknames over the server’s', () => {
    const s = settingsOf(
      [
        'LogFormat "%h" short',
        'CustomLog /main.log short',
        '<VirtualHost *:8080>',
        'LogFormat "%v" short',
        'CustomLog /a.log short',
        '</VirtualHost>',
        '<VirtualHost *:8080>',
        'ServerName b',
        '</VirtualHost>',
      ].join('\n'),
    );
    assert.deepEqual(s.virtualHosts.map((h) => h.accessLogs), [
      [{ target: '/a.log', format: text('%v') }],
      [{ target: '/main.log', format: text('%h') }],
    ]);
  });

  it('reports bad formats and unknown nicknames at their file:line', () => {
    assert.deepEqual(
      errorsOf(
        [
          'LogFormat "%h %Z" bad',
          'CustomLog /x.log "%{Referer"',
          'CustomLog /x.log combnied',
          'LogFormat "%h" json',
          'CustomLog /x.log common env=!dontlog',
          'CustomLog "|/usr/bin/rotatelogs" common',
          'LogFormat "%{x}h"',
          'CustomLog /x.log "%{%Q}t"',
          'CustomLog /x.log "%f"',
          'CustomLog /x.log "%i"',
          'CustomLog /x.log "%{bogus}T %"',
          'LogFormat nothere',
        ].join('\n'),
      ),
      [
        `${file}:3: LogFormat: unknown format directive %Z (docs/logging.md lists them)`,
        `${file}:4: CustomLog: %{Referer: { without a closing }`,
        `${file}:5: CustomLog: unknown LogFormat nickname "combnied", did you mean combined? (a format needs at least one %)`,
        `${file}:6: LogFormat: json names the built-in JSON format; choose another nickname`,
        `${file}:7: CustomLog: conditional logging (env=!dontlog) is not supported`,
        `${file}:8: CustomLog: piped logs are not supported; log to a file or stderr`,
        `${file}:9: LogFormat: %{x}h: %h takes no {argument}`,
        `${file}:10: CustomLog: %{%Q}t: unknown strftime conversion %Q (known: ${strftimeConversions.map((c) => `%${c}`).join(' ')})`,
        `${file}:11: CustomLog: %f is not supported: mpmproxy has no served files`,
        `${file}:12: CustomLog: %i needs a {name}: %{name}i`,
        `${file}:13: CustomLog: %{bogus}T: the argument of %T is one of s, ms, us`,
        `${file}:14: LogFormat: unknown LogFormat nickname "nothere" (a format needs at least one %)`,
      ],
    );
  });
});
