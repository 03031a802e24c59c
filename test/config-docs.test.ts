import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { directivesDocPath, renderDirectivesDoc } from '../scripts/gen-directives-doc';
import { listDirectives } from '../src/cli/list-directives';
import { loadConfig, resolveSettings } from '../src/config';
import { directiveList, displayName } from '../src/config/directives';

const repo = path.resolve(__dirname, '../..');

describe('docs/directives.md', () => {
  it('is what scripts/gen-directives-doc.ts generates (run npm run docs after changing the table)', () => {
    assert.equal(directivesDocPath, path.join(repo, 'docs/directives.md'));
    assert.equal(fs.readFileSync(directivesDocPath, 'utf8'), renderDirectivesDoc());
  });

  it('has a section for every directive, in table order, with its syntax', () => {
    const sections = renderDirectivesDoc().split('\n### ').slice(1);
    assert.deepEqual(
      sections.map((s) => s.slice(0, s.indexOf('\n'))),
      directiveList.map((spec) => `\`${displayName(spec)}\``),
    );
    sections.forEach((section, i) => assert.ok(section.includes(`\n- Syntax: \`${directiveList[i]!.syntax}\`\n`), section));
  });
});

describe('mpmproxy -L', () => {
  it('lists every directive with its syntax, contexts, default and meaning', () => {
    const text = listDirectives();
    for (const spec of directiveList) {
      assert.ok(text.includes(`${displayName(spec)} (${spec.module})\n\t${spec.summary}\n\tSyntax:  ${spec.syntax}\n`), spec.name);
    }
    assert.equal(text.match(/^\S/gm)?.length, directiveList.length);
  });

  it('shows contexts, defaults, MPMs and aliases', () => {
    const text = listDirectives();
    assert.ok(
      text.includes(
        'MaxRequestWorkers (mpm)\n\tMaximum number of connections that will be processed simultaneously\n' +
          '\tSyntax:  MaxRequestWorkers number\n\tContext: server config\n\tDefault: ServerLimit × ThreadsPerChild\n' +
          '\tModule:  mpm\n\tAlias:   MaxClients\n',
      ),
    );
    assert.ok(text.includes('\tContext: server config, <VirtualHost>, <Location>\n'));
    assert.ok(text.includes('MinSpareServers (mpm)\n\tMinimum number of idle child server processes\n\tSyntax:  MinSpareServers number\n\tContext: server config\n\tDefault: 2\n\tModule:  mpm\n\tMPMs:    prefork\n'));
  });
});

describe('etc/mpmproxy.conf', () => {
  const file = path.join(repo, 'etc/mpmproxy.conf');
  const text = fs.readFileSync(file, 'utf8');

  it('uses every directive', () => {
    const written = new Set(text.split('\n').map((line) => /^\s*<?(\w+)/.exec(line)?.[1]?.toLowerCase()));
    assert.deepEqual(directiveList.filter((spec) => !written.has(spec.name.toLowerCase())).map((spec) => spec.name), []);
  });

  it('loads without errors or warnings', () => {
    const settings = resolveSettings(loadConfig({ file }), { cpus: 4, uid: 0 });
    assert.deepEqual(settings.warnings, []);
    assert.equal(settings.mpm, 'event');
    assert.equal(settings.virtualHosts.length, 1);
  });
});
