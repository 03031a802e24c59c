// Builds the section tree from what the reader read, validating every directive against the
// table (name, context, arguments, value), then the rules that span directives. Every error
// is collected, so one `mpmproxy -t` shows them all.

import { ConfigError, ConfigErrors } from '../errors';
import { resolveAccessLogs } from './access-logs';
import {
  contextLabel,
  directiveLabel,
  directives,
  findDirective,
  parseOrSkip,
  parseUse,
  unknownDirectiveMessage,
  usesOf,
  type DirectiveSpec,
} from './directives';
import { readConfig, type DirectiveNode, type Node, type SectionNode } from './reader';
import { sectionRoutes } from './routes';
import type { ContextName, MpmName, ParsedConfig, Section } from './types';
import { ValueError } from './values';

export interface ParseOptions {
  /** The main file: read unless `text` is given, which is then parsed under this name. */
  file: string;
  text?: string;
  defines: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Directory of the main file: where relative paths start until ServerRoot says otherwise. */
  configDir: string;
}

/** Decided while the files are read, so they cannot depend on the MPM. */
const decidedFirst: ReadonlySet<DirectiveSpec> = new Set([directives.MPM, directives.ServerRoot]);

export function parseConfig(options: ParseOptions): ParsedConfig {
  const defines = [...new Set(options.defines)];
  const read = readConfig(options, { defines: new Set(defines), env: options.env, configDir: options.configDir });
  const root = newSection('server', '', options.file, 1);
  const builder = new Builder(selectedMpm(read.nodes, options.configDir), options.configDir);
  builder.fill(root, read.nodes, null);
  const errors = [...read.errors, ...builder.errors];
  errors.push(...crossChecks(root, errors));
  if (errors.length > 0) throw new ConfigErrors(inReadingOrder(errors, read.files));
  return { root, files: read.files, defines };
}

/** The MPM the server-level MPM directives select: it decides every <IfModule mpm_*>. */
function selectedMpm(nodes: readonly Node[], configDir: string): MpmName {
  let mpm: MpmName = 'event';
  for (const node of nodes) {
    if (node.kind === 'directive' && findDirective(node.name)?.spec === directives.MPM) {
      mpm = parseOrSkip(directives.MPM, node.args, { context: 'server', sectionArg: '', configDir }) ?? mpm;
    }
  }
  return mpm;
}

function newSection(context: ContextName, arg: string, file: string, line: number): Section {
  return { context, arg, file, line, directives: [], sections: [] };
}

class Builder {
  readonly errors: ConfigError[] = [];

  constructor(
    private readonly mpm: MpmName,
    private readonly configDir: string,
  ) {}

  /** `within` names the <IfModule mpm_*> being applied, if any. */
  fill(section: Section, nodes: readonly Node[], within: string | null): void {
    for (const node of nodes) {
      if (node.kind === 'error') this.errors.push(node.error);
      else if (node.kind !== 'if-mpm') this.add(section, node, within);
      else if ((node.mpm === this.mpm) !== node.negate) this.fill(section, node.children, node.label);
    }
  }

  private add(section: Section, node: DirectiveNode | SectionNode, within: string | null): void {
    const found = findDirective(node.name);
    const label = directiveLabel(node.name, node.kind === 'section');
    const fail = (message: string): void => {
      this.errors.push(new ConfigError(node.file, node.line, label, message));
    };
    if (!found) return fail(unknownDirectiveMessage(node.name));
    const { spec, spelling } = found;
    if (node.kind === 'directive' && spec.opens) return fail(`is a container: write <${spelling} ...> ... </${spelling}>`);
    if (!spec.contexts.includes(section.context)) {
      return fail(`not allowed in ${contextLabel(section.context)}; allowed in ${spec.contexts.map(contextLabel).join(', ')}`);
    }
    if (within !== null && decidedFirst.has(spec)) return fail(`cannot be inside ${within}: it must not depend on the MPM`);
    let value: unknown;
    try {
      value = parseUse(spec, node.args, { context: section.context, sectionArg: section.arg, configDir: this.configDir });
    } catch (err) {
      if (err instanceof ValueError) return fail(err.message);
      throw err;
    }
    if (node.kind === 'directive') {
      section.directives.push({ name: spec.name, args: node.args, file: node.file, line: node.line, value });
    } else if (spec.opens !== undefined && spec.opens !== 'conditional') {
      const child = newSection(spec.opens, node.args.join(' '), node.file, node.line);
      this.fill(child, node.children, within);
      section.sections.push(child);
    }
  }
}

/** Rules between directives, checked on the tree built. */
function crossChecks(root: Section, found: readonly ConfigError[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const listens = usesOf(root, directives.Listen);
  // A Listen already reported as wrong is missing for a reason the operator can see.
  if (listens.length === 0 && !found.some((e) => e.directive === directives.Listen.name)) {
    errors.push(new ConfigError(root.file, root.line, 'Listen', 'no Listen directive; at least one is required'));
  }
  const bound = new Map<string, string>();
  for (const { value, file, line } of listens) {
    const key = `${value.host}:${value.port}`;
    const earlier = bound.get(key);
    if (earlier === undefined) bound.set(key, `${file}:${line}`);
    else errors.push(new ConfigError(file, line, 'Listen', `${key} is already listened on at ${earlier}`));
  }
  for (const section of [root, ...root.sections.filter((s) => s.context === 'virtualhost')]) {
    errors.push(...sectionRoutes(section).errors);
  }
  errors.push(...resolveAccessLogs(root, (p) => p).errors);
  return errors;
}

/** File by file in the order read, line by line. */
function inReadingOrder(errors: ConfigError[], files: readonly string[]): ConfigError[] {
  const rank = (e: ConfigError): number => files.indexOf(e.file);
  return [...errors].sort((a, b) => rank(a) - rank(b) || a.line - b.line);
}
