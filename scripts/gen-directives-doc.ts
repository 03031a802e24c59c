// Writes docs/directives.md from the directive table (npm run docs). A test checks the
// committed file equals renderDirectivesDoc(), so the table and the page cannot drift.

import fs from 'node:fs';
import path from 'node:path';
import { directiveFacts } from '../src/config/directive-facts';
import { directiveList, displayName, type DirectiveModule } from '../src/config/directives';

// In the order the table lists them.
const moduleTitles: Record<DirectiveModule, string> = {
  core: 'Core',
  mpm: 'MPM and processes',
  log: 'Logging',
  status: 'Handlers',
  proxy: 'Proxy',
  limits: 'Sandbox limits',
  session: 'Sessions',
  ssl: 'TLS',
  http2: 'HTTP/2',
  proxy_wstunnel: 'WebSockets',
};

/** From the compiled script in dist/scripts/. */
export const directivesDocPath = path.resolve(__dirname, '../../docs/directives.md');

export function renderDirectivesDoc(): string {
  const out: string[] = [
    '# Directives',
    '',
    '<!-- Generated from src/config/directives.ts by scripts/gen-directives-doc.ts (npm run docs). Do not edit. -->',
    '',
    'Every directive mpmproxy reads; `mpmproxy -L` prints the same list. Syntax rules, value',
    'formats (sizes, durations) and how defaults are chosen are in [configuration.md](configuration.md).',
    '',
    '| Directive | Module | Summary |',
    '| --- | --- | --- |',
    ...directiveList.map((spec) => `| [${code(displayName(spec))}](#${spec.name.toLowerCase()}) | ${spec.module} | ${prose(spec.summary)} |`),
  ];
  for (const [module, title] of Object.entries(moduleTitles)) {
    out.push('', `## ${title}`);
    for (const spec of directiveList.filter((s) => s.module === module)) {
      out.push('', `### ${code(displayName(spec))}`, '', `${prose(spec.summary)}.`, '');
      out.push(...directiveFacts(spec).map(([label, text]) => `- ${label}: ${label === 'Syntax' ? code(text) : prose(text)}`));
    }
  }
  return `${out.join('\n')}\n`;
}

function code(text: string): string {
  return `\`${text}\``;
}

/** Table text as Markdown: container names in code (not HTML tags), * and | literal. */
function prose(text: string): string {
  return text.replace(/[*|]/g, '\\$&').replace(/<\/?[A-Za-z][^>]*>/g, code);
}

if (require.main === module) {
  fs.writeFileSync(directivesDocPath, renderDirectivesDoc());
  process.stdout.write(`wrote ${directivesDocPath}\n`);
}
