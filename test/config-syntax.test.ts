import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { ConfigError, ConfigErrors } from '../src/errors';
import type { DirectiveUse, ParsedConfig } from '../src/config/types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-config-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes files under a fresh directory; returns its path. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'tree-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const text = (config: string, options: { defines?: string[]; env?: NodeJS.ProcessEnv } = {}): ParsedConfig =>
  loadConfig({ text: config, env: {}, ...options });

/** The messages of the ConfigErrors that loading throws. */
function errorsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    return err.errors.map((e) => e.message);
  }
  return assert.fail('expected the configuration to be rejected');
}

const uses = (parsed: ParsedConfig, name: string): DirectiveUse[] =>
  parsed.root.directives.filter((d) => d.name === name);
const argsOf = (parsed: ParsedConfig, name: string): string[][] => uses(parsed, name).map((d) => d.args);

describe('lines', () => {
  it('skips comment lines, indented ones too, and blank lines', () => {
    const parsed = text('# a comment\n   # indented comment\n\n\tListen 8080\n');
    assert.deepEqual(argsOf(parsed, 'Listen'), [['8080']]);
    assert.equal(uses(parsed, 'Listen')[0]!.line, 4);
  });

  it('does not take # in the middle of a line as a comment, like Apache', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nServerName a.example # the name\n')), [
      '(embedded):2: ServerName: takes one argument: ServerName [scheme://]domain-name[:port]',
    ]);
  });

  it('joins backslash-continued lines and reports the line they start on', () => {
    const parsed = text('Listen \\\n  8080\nLogLevel info \\\n proxy:debug \\\n child:error\n');
    assert.deepEqual(argsOf(parsed, 'Listen'), [['8080']]);
    assert.deepEqual(argsOf(parsed, 'LogLevel'), [['info', 'proxy:debug', 'child:error']]);
    assert.equal(uses(parsed, 'LogLevel')[0]!.line, 3);
    assert.deepEqual(errorsOf(() => text('Listen 8080\nKeepAlive \\\n  maybe\n')), [
      '(embedded):2: KeepAlive: must be On or Off (got "maybe")',
    ]);
  });

  it('joins without adding a blank, and a doubled backslash does not continue', () => {
    assert.deepEqual(argsOf(text('Listen 80\\\n80\n'), 'Listen'), [['8080']]);
    const parsed = text('Listen 8080\n<Location /a>\nProxyPass http://b/x\\\\\n</Location>\n');
    assert.deepEqual(parsed.root.sections[0]!.directives[0]!.args, ['http://b/x\\\\']);
  });

  it('lets a comment ending in a backslash swallow the next line, as Apache does', () => {
    assert.deepEqual(argsOf(text('Listen 8080\n# KeepAlive \\\nKeepAlive maybe\n'), 'KeepAlive'), []);
  });

  it('reads CRLF files', () => {
    assert.deepEqual(argsOf(text('Listen 8080\r\nKeepAlive Off\r\n'), 'KeepAlive'), [['Off']]);
  });

  it('takes directive names in any case and stores the table spelling', () => {
    const parsed = text('listen 8080\nKEEPALIVE off\nmaxclients 64\n');
    assert.deepEqual(
      parsed.root.directives.map((d) => [d.name, d.value]),
      [
        ['Listen', { host: '0.0.0.0', port: 8080, protocol: 'http', text: '8080' }],
        ['KeepAlive', false],
        ['MaxRequestWorkers', 64],
      ],
    );
  });
});

describe('quotes', () => {
  it('keeps blanks inside double and single quotes', () => {
    const parsed = text('Listen 8080\n<VirtualHost *:8080>\nServerAlias "a.example"   \'b.example\' c.example\n</VirtualHost>\n');
    assert.deepEqual(parsed.root.sections[0]!.directives[0]!.args, ['a.example', 'b.example', 'c.example']);
    const paths = text('Listen 8080\nPidFile "/run/my dir/x.pid"\nErrorLog \'/var/log/my logs/e.log\'\n');
    assert.deepEqual(argsOf(paths, 'PidFile'), [['/run/my dir/x.pid']]);
    assert.deepEqual(argsOf(paths, 'ErrorLog'), [['/var/log/my logs/e.log']]);
  });

  it('unescapes a backslashed quote or backslash and keeps other backslashes', () => {
    const parsed = text('Listen 8080\nPidFile "/a \\"b\\" \\\\c \\d"\nErrorLog \'it\\\'s\'\n');
    assert.deepEqual(argsOf(parsed, 'PidFile'), [['/a "b" \\c \\d']]);
    assert.deepEqual(argsOf(parsed, 'ErrorLog'), [["it's"]]);
  });

  it('reads an empty quoted argument as empty', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nPidFile ""\n')), ['(embedded):2: PidFile: must not be empty']);
  });

  it('reports a missing closing quote at its line', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n\nPidFile "/run/x.pid\n')), [
      '(embedded):3: PidFile: missing closing " quote',
    ]);
  });
});

describe('environment variables', () => {
  it('substitutes ${VAR}, inside quotes and container lines too', () => {
    const env = { PORT: '9090', ROOT: '/srv/app', HOST: '*:9090' };
    const parsed = text('Listen ${PORT}\nPidFile "${ROOT}/run/x.pid"\n<VirtualHost ${HOST}>\n</VirtualHost>\n', { env });
    assert.deepEqual(argsOf(parsed, 'Listen'), [['9090']]);
    assert.deepEqual(argsOf(parsed, 'PidFile'), [['/srv/app/run/x.pid']]);
    assert.equal(parsed.root.sections[0]!.arg, '*:9090');
  });

  it('reads process.env unless told otherwise', () => {
    process.env.MPMPROXY_TEST_PORT = '7070';
    try {
      assert.deepEqual(argsOf(loadConfig({ text: 'Listen ${MPMPROXY_TEST_PORT}\n' }), 'Listen'), [['7070']]);
    } finally {
      delete process.env.MPMPROXY_TEST_PORT;
    }
  });

  it('rejects an undefined variable, naming it', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nUser ${NOBODY}\n<Location ${WHERE}>\n</Location>\n')), [
      '(embedded):2: User: environment variable NOBODY is not defined',
      '(embedded):3: <Location>: environment variable WHERE is not defined',
    ]);
  });

  it('leaves $VAR without braces alone', () => {
    assert.deepEqual(argsOf(text('Listen 8080\nPidFile www$x\n'), 'PidFile'), [['www$x']]);
  });
});

describe('containers', () => {
  it('builds sections with their context, argument, file and line', () => {
    const parsed = text(
      'Listen 8080\n<VirtualHost *:8080 127.0.0.1:8081>\n  ServerName a.example\n  <Location /x>\n    SetHandler server-status\n  </Location>\n</VirtualHost>\n<Proxy http://b:3000/>\n</Proxy>\n',
    );
    const [host, proxy] = parsed.root.sections;
    assert.deepEqual(
      { context: host!.context, arg: host!.arg, file: host!.file, line: host!.line },
      { context: 'virtualhost', arg: '*:8080 127.0.0.1:8081', file: '(embedded)', line: 2 },
    );
    assert.deepEqual(host!.directives.map((d) => [d.name, d.value, d.line]), [['ServerName', 'a.example', 3]]);
    const location = host!.sections[0]!;
    assert.deepEqual([location.context, location.arg, location.line], ['location', '/x', 4]);
    assert.deepEqual(location.directives.map((d) => d.value), ['server-status']);
    assert.deepEqual([proxy!.context, proxy!.arg], ['proxy', 'http://b:3000/']);
  });

  it('takes quoted container arguments and container names in any case', () => {
    const parsed = text('Listen 8080\n<location "/a b">\nSetHandler default-page\n</LOCATION>\n');
    assert.equal(parsed.root.sections[0]!.arg, '/a b');
  });

  it('reports a close that does not match, naming both', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<VirtualHost *:80>\n<Location /x>\n</VirtualHost>\n')), [
      '(embedded):4: </VirtualHost>: expected </Location> but saw </VirtualHost>',
    ]);
  });

  it('reports a misspelt close once and carries on', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<Location /x>\n</Locaton>\nKeepAlive maybe\n')), [
      '(embedded):3: </Locaton>: expected </Location> but saw </Locaton>',
      '(embedded):4: KeepAlive: must be On or Off (got "maybe")',
    ]);
  });

  it('reports a close with nothing open, and a container left open at its opening line', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n</Location>\n<VirtualHost *:80>\n<Location /a>\n</Location>\n')), [
      '(embedded):2: </Location>: has no matching <Location>',
      '(embedded):3: <VirtualHost>: is not closed before the end of the file',
    ]);
  });

  it("reports a container line without its '>' and a close with arguments, keeping the nesting", () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<Location /x\n</Location>\n<Location /y>\n</Location /y>\n')), [
      "(embedded):2: <Location>: is missing its closing '>'",
      '(embedded):5: </Location>: takes no arguments',
    ]);
  });

  it('requires each file to close what it opens', () => {
    const dir = tree({ 'main.conf': 'Listen 8080\n<VirtualHost *:80>\nInclude open.conf\n</VirtualHost>\n', 'open.conf': '<Location /a>\n' });
    assert.deepEqual(errorsOf(() => loadConfig({ file: path.join(dir, 'main.conf') })), [
      `${dir}/open.conf:1: <Location>: is not closed before the end of the file`,
    ]);
  });

  it('rejects a container in the wrong place, and skips what it holds', () => {
    assert.deepEqual(
      errorsOf(() => text('Listen 8080\n<Location /a>\n<Location /b>\nKeepAlive maybe\n</Location>\n</Location>\n<VirtualHost *:80>\n<VirtualHost *:81>\n</VirtualHost>\n</VirtualHost>\n')),
      [
        '(embedded):3: <Location>: not allowed in <Location>; allowed in server config, <VirtualHost>',
        '(embedded):8: <VirtualHost>: not allowed in <VirtualHost>; allowed in server config',
      ],
    );
  });

  it('tells a container from a directive', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nLocation /x\n<KeepAlive On>\n</KeepAlive>\n<Locaton /y>\n</Locaton>\n')), [
      '(embedded):2: <Location>: is a container: write <Location ...> ... </Location>',
      '(embedded):3: <KeepAlive>: KeepAlive is not a container',
      '(embedded):5: <Locaton>: unknown directive, did you mean <Location>?',
    ]);
  });
});

describe('IfDefine', () => {
  const config = 'Listen 8080\n<IfDefine TLS>\nKeepAlive Off\n</IfDefine>\n<IfDefine !TLS>\nKeepAlive On\n</IfDefine>\n';

  it('reads the body only when the name is defined, or with ! when it is not', () => {
    assert.deepEqual(argsOf(text(config), 'KeepAlive'), [['On']]);
    assert.deepEqual(argsOf(text(config, { defines: ['TLS'] }), 'KeepAlive'), [['Off']]);
  });

  it('nests, and records the defines', () => {
    const nested = 'Listen 8080\n<IfDefine A>\n<IfDefine B>\nKeepAlive Off\n</IfDefine>\n</IfDefine>\n';
    assert.deepEqual(argsOf(text(nested, { defines: ['A'] }), 'KeepAlive'), []);
    const both = text(nested, { defines: ['A', 'B', 'A'] });
    assert.deepEqual(argsOf(both, 'KeepAlive'), [['Off']]);
    assert.deepEqual(both.defines, ['A', 'B']);
  });

  it('does not read a false body, but still checks its nesting', () => {
    assert.doesNotThrow(() => text('Listen 8080\n<IfDefine NO>\nBogus "unclosed\nUser ${UNDEFINED}\n<Anything at all>\n</Anything>\n</IfDefine>\n'));
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<IfDefine NO>\n<Location /x>\n</IfDefine>\n')), [
      '(embedded):4: </IfDefine>: expected </Location> but saw </IfDefine>',
    ]);
  });

  it('keeps the body in the enclosing context', () => {
    const parsed = text('Listen 8080\n<Location /x>\n<IfDefine !OFF>\nSetHandler server-status\n</IfDefine>\n</Location>\n');
    assert.deepEqual(parsed.root.sections[0]!.directives.map((d) => d.value), ['server-status']);
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<IfDefine !OFF>\nSetHandler server-status\n</IfDefine>\n')), [
      '(embedded):3: SetHandler: not allowed in server config; allowed in <Location>',
    ]);
  });

  it('needs exactly one name', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<IfDefine>\nKeepAlive maybe\n</IfDefine>\n<IfDefine !>\n</IfDefine>\n')), [
      '(embedded):2: <IfDefine>: takes one argument: <IfDefine [!]parameter-name>',
      '(embedded):5: <IfDefine>: needs a name after !',
    ]);
  });
});

describe('IfModule', () => {
  it('is true for the built-in modules under any of their Apache names', () => {
    for (const name of ['proxy', 'mod_proxy.c', 'proxy_module', 'status_module', 'mod_status.c', 'log_config_module', 'core', 'proxy_http', 'MOD_PROXY_HTTP.C']) {
      const parsed = text(`Listen 8080\n<IfModule ${name}>\nKeepAlive Off\n</IfModule>\n`);
      assert.deepEqual(argsOf(parsed, 'KeepAlive'), [['Off']], name);
    }
  });

  it('is false for other modules, and ! turns it round', () => {
    const parsed = text('Listen 8080\n<IfModule mod_rewrite.c>\nKeepAlive Off\n</IfModule>\n<IfModule !rewrite_module>\nTimeout 5\n</IfModule>\n<IfModule !proxy>\nUser nobody\n</IfModule>\n');
    assert.deepEqual(argsOf(parsed, 'KeepAlive'), []);
    assert.deepEqual(argsOf(parsed, 'Timeout'), [['5']]);
    assert.deepEqual(argsOf(parsed, 'User'), []);
  });

  it('counts only the selected MPM, even when MPM comes after', () => {
    const config = (mpm: string) =>
      `Listen 8080\n<IfModule mpm_event_module>\nThreadsPerChild 32\n</IfModule>\n<IfModule worker.c>\nThreadsPerChild 16\n</IfModule>\n<IfModule !mpm_prefork>\nMaxRequestWorkers 64\n</IfModule>\n${mpm}`;
    const tpc = (parsed: ParsedConfig) => uses(parsed, 'ThreadsPerChild').map((d) => d.value);
    assert.deepEqual(tpc(text(config(''))), [32]);
    assert.deepEqual(tpc(text(config('MPM worker\n'))), [16]);
    assert.deepEqual(tpc(text(config('MPM prefork\n'))), []);
    assert.deepEqual(argsOf(text(config('MPM prefork\n')), 'MaxRequestWorkers'), []);
    assert.deepEqual(argsOf(text(config('MPM worker\n')), 'MaxRequestWorkers'), [['64']]);
  });

  it('does not report errors inside an MPM section that is not selected', () => {
    const config = 'Listen 8080\nMPM event\n<IfModule mpm_prefork_module>\nMinSpareServers lots\nInclude /nonexistent/x.conf\n</IfModule>\n';
    assert.doesNotThrow(() => text(config));
    assert.deepEqual(errorsOf(() => text(config.replace('MPM event', 'MPM prefork'))), [
      '(embedded):4: MinSpareServers: must be an integer from 1 to 20000 (got "lots")',
      '(embedded):5: Include: no such file: /nonexistent/x.conf (IncludeOptional allows that)',
    ]);
  });

  it('keeps MPM and ServerRoot out of MPM sections', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\n<IfModule !mpm_prefork_module>\nMPM worker\nServerRoot /\n</IfModule>\n')), [
      '(embedded):3: MPM: cannot be inside <IfModule !mpm_prefork_module>: it must not depend on the MPM',
      '(embedded):4: ServerRoot: cannot be inside <IfModule !mpm_prefork_module>: it must not depend on the MPM',
    ]);
  });
});

describe('Include', () => {
  it('reads wildcard matches in alphabetical order, relative to ServerRoot, skipping dotfiles', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\nInclude conf.d/*.conf\nLogLevel info\n',
      'conf.d/20-b.conf': 'User b\n',
      'conf.d/10-a.conf': 'User a\n',
      'conf.d/.hidden.conf': 'User hidden\n',
      'conf.d/notes.txt': 'User txt\n',
    });
    const parsed = loadConfig({ file: path.join(dir, 'main.conf') });
    assert.deepEqual(argsOf(parsed, 'User'), [['a'], ['b']]);
    assert.deepEqual(parsed.root.directives.map((d) => d.name), ['Listen', 'User', 'User', 'LogLevel']);
    assert.deepEqual(parsed.files, [`${dir}/main.conf`, `${dir}/conf.d/10-a.conf`, `${dir}/conf.d/20-b.conf`]);
    assert.deepEqual(uses(parsed, 'User').map((d) => [d.file, d.line]), [[`${dir}/conf.d/10-a.conf`, 1], [`${dir}/conf.d/20-b.conf`, 1]]);
  });

  it('takes wildcards in directory components and ? and [...] classes', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\nInclude sites/*/site?.conf\nInclude extra/[ab].conf\n',
      'sites/one/site1.conf': 'User one\n',
      'sites/two/site2.conf': 'User two\n',
      'sites/two/site10.conf': 'User ten\n',
      'extra/a.conf': 'Group a\n',
      'extra/c.conf': 'Group c\n',
    });
    const parsed = loadConfig({ file: path.join(dir, 'main.conf') });
    assert.deepEqual(argsOf(parsed, 'User'), [['one'], ['two']]);
    assert.deepEqual(argsOf(parsed, 'Group'), [['a']]);
  });

  it('reads every file below an included directory', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\nInclude d\n',
      'd/b.conf': 'User b\n',
      'd/a/x.conf': 'User ax\n',
    });
    assert.deepEqual(argsOf(loadConfig({ file: path.join(dir, 'main.conf') }), 'User'), [['ax'], ['b']]);
  });

  it('places an included file inside the section that includes it', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\n<VirtualHost *:8080>\nInclude host.conf\n</VirtualHost>\n',
      'host.conf': 'ServerName a.example\n<Location /s>\nSetHandler server-status\n</Location>\n',
    });
    const host = loadConfig({ file: path.join(dir, 'main.conf') }).root.sections[0]!;
    assert.deepEqual(host.directives.map((d) => d.value), ['a.example']);
    assert.deepEqual(host.sections.map((s) => [s.arg, s.file, s.line]), [['/s', `${dir}/host.conf`, 2]]);
  });

  it('uses the ServerRoot written above it', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\nServerRoot other\nInclude x.conf\n',
      'other/x.conf': 'User other\n',
      'x.conf': 'User here\n',
    });
    const parsed = loadConfig({ file: path.join(dir, 'main.conf') });
    assert.deepEqual(argsOf(parsed, 'User'), [['other']]);
    assert.equal(uses(parsed, 'ServerRoot')[0]!.value, `${dir}/other`);
  });

  it('makes a missing file or an empty wildcard an error for Include only', () => {
    const dir = tree({ 'main.conf': 'Listen 8080\nInclude none.conf\nInclude none.d/*.conf\nIncludeOptional none.conf\nIncludeOptional none.d/*.conf\n' });
    assert.deepEqual(errorsOf(() => loadConfig({ file: path.join(dir, 'main.conf') })), [
      `${dir}/main.conf:2: Include: no such file: ${dir}/none.conf (IncludeOptional allows that)`,
      `${dir}/main.conf:3: Include: no file matches ${dir}/none.d/*.conf (IncludeOptional allows that)`,
    ]);
  });

  it('detects include loops', () => {
    const dir = tree({ 'main.conf': 'Listen 8080\nInclude a.conf\n', 'a.conf': 'Include b.conf\n', 'b.conf': 'User b\nInclude a.conf\n' });
    assert.deepEqual(errorsOf(() => loadConfig({ file: path.join(dir, 'main.conf') })), [
      `${dir}/b.conf:2: Include: include loop: ${dir}/main.conf -> ${dir}/a.conf -> ${dir}/b.conf -> ${dir}/a.conf`,
    ]);
    const self = tree({ 'main.conf': 'Listen 8080\nInclude main.conf\n' });
    assert.deepEqual(errorsOf(() => loadConfig({ file: path.join(self, 'main.conf') })), [
      `${self}/main.conf:2: Include: include loop: ${self}/main.conf -> ${self}/main.conf`,
    ]);
  });

  it('may include the same file twice when it is not a loop', () => {
    const dir = tree({
      'main.conf': 'Listen 8080\n<VirtualHost *:80>\nInclude common.conf\n</VirtualHost>\n<VirtualHost *:81>\nInclude common.conf\n</VirtualHost>\n',
      'common.conf': 'ServerAlias x.example\n',
    });
    const parsed = loadConfig({ file: path.join(dir, 'main.conf') });
    assert.deepEqual(parsed.root.sections.map((s) => s.directives.length), [1, 1]);
    assert.deepEqual(parsed.files, [`${dir}/main.conf`, `${dir}/common.conf`]);
  });

  it('reports an unreadable main file', () => {
    assert.deepEqual(errorsOf(() => loadConfig({ file: path.join(tmp, 'missing.conf') })), [
      `${tmp}/missing.conf:0: -f: cannot read ${tmp}/missing.conf: no such file or directory`,
    ]);
  });

  it('parses text under a file name, with that directory as ServerRoot', () => {
    const dir = tree({ 'x.conf': 'User x\n' });
    const parsed = loadConfig({ file: path.join(dir, 'main.conf'), text: 'Listen 8080\nInclude x.conf\n' });
    assert.deepEqual(argsOf(parsed, 'User'), [['x']]);
    assert.deepEqual(parsed.files, [`${dir}/main.conf`, `${dir}/x.conf`]);
  });
});

describe('errors', () => {
  it('collects every error in one pass, in file and line order, as ConfigError', () => {
    let thrown: unknown;
    try {
      text('StartServers -1\nKeepAlive maybe\nTimeout 5 parsecs\nStartServer 4\nListen 8080\n<Location /x>\nKeepAlive On\n</Location>\n');
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof ConfigErrors);
    assert.equal(thrown.code, 'MPM_ERR_CONFIG_INVALID');
    assert.deepEqual(thrown.errors.map((e) => [e.file, e.line, e.directive]), [
      ['(embedded)', 1, 'StartServers'],
      ['(embedded)', 2, 'KeepAlive'],
      ['(embedded)', 3, 'Timeout'],
      ['(embedded)', 4, 'StartServer'],
      ['(embedded)', 7, 'KeepAlive'],
    ]);
    assert.ok(thrown.errors.every((e) => e instanceof ConfigError));
    assert.equal(
      thrown.message,
      [
        '(embedded):1: StartServers: must be an integer from 1 to 20000 (got "-1")',
        '(embedded):2: KeepAlive: must be On or Off (got "maybe")',
        '(embedded):3: Timeout: takes one argument: Timeout duration',
        '(embedded):4: StartServer: unknown directive, did you mean StartServers?',
        '(embedded):7: KeepAlive: not allowed in <Location>; allowed in server config',
      ].join('\n'),
    );
  });

  it('suggests the nearest name, aliases included, and says so when none is near', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nMaxClient 10\nKeepAliveTimout 5\nlisen 80\nFrobnicate yes\n')), [
      '(embedded):2: MaxClient: unknown directive, did you mean MaxClients?',
      '(embedded):3: KeepAliveTimout: unknown directive, did you mean KeepAliveTimeout?',
      '(embedded):4: lisen: unknown directive, did you mean Listen?',
      '(embedded):5: Frobnicate: unknown directive (mpmproxy -L lists them all)',
    ]);
  });

  it('uses the alias spelling in messages about an alias', () => {
    assert.deepEqual(errorsOf(() => text('Listen 8080\nmaxrequestsperchild many\n')), [
      '(embedded):2: MaxRequestsPerChild: must be a non-negative integer or unlimited (got "many")',
    ]);
  });
});
