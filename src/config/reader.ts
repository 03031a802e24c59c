// Reads configuration text into a tree of nodes: follows Include, decides <IfDefine> and
// <IfModule> and checks that containers nest, file by file. <IfModule mpm_*> is kept as a
// node, decided by the parser once the whole configuration has said which MPM it selects.
// Directives are not validated here; the parser does that against the table.

import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, ConfigErrors } from '../errors';
import {
  directiveLabel,
  directives,
  findDirective,
  parseOrSkip,
  parseUse,
  unknownDirectiveMessage,
  type Condition,
  type UseContext,
} from './directives';
import { hasWildcard, includedFiles } from './include';
import { logicalLines, peekShape, shapeOf, substituteEnv, type LineShape } from './lexer';
import { findModule, mpmOfModule } from './modules';
import type { MpmName } from './types';
import { ValueError } from './values';

interface Located {
  file: string;
  line: number;
}

export type DirectiveNode = Located & { kind: 'directive'; name: string; args: string[] };
export type SectionNode = Located & { kind: 'section'; name: string; args: string[]; children: Node[] };
export type Node =
  | DirectiveNode
  | SectionNode
  | (Located & { kind: 'if-mpm'; label: string; mpm: MpmName; negate: boolean; children: Node[] })
  /** Found while reading, but reported only if the node is in force (not in a false <IfModule mpm_*>). */
  | { kind: 'error'; error: ConfigError };

export interface ReadOptions {
  defines: ReadonlySet<string>;
  env: NodeJS.ProcessEnv;
  /** Directory of the main file: the ServerRoot until one is set. */
  configDir: string;
}

export interface ReadResult {
  nodes: Node[];
  /** Every file read, in order, the main one first. */
  files: string[];
  /** The ServerRoot in force at the end. */
  serverRoot: string;
  /** Containers that do not nest: reported however the conditions turn out. */
  errors: ConfigError[];
}

/** An open container. `into` receives its body: the enclosing list for a true condition,
 * null while a false one is skipped. `block` is true for containers that nest sections. */
interface Frame {
  name: string;
  line: number;
  into: Node[] | null;
  block: boolean;
}

/** Reads the main file, or `text` under the main file's name; throws ConfigErrors when the
 * main file cannot be read, since nothing else can be said then. */
export function readConfig(main: { file: string; text?: string }, options: ReadOptions): ReadResult {
  const reader = new Reader(options);
  const nodes: Node[] = [];
  let text = main.text;
  if (text === undefined) {
    try {
      text = fs.readFileSync(main.file, 'utf8');
      reader.including.push(fs.realpathSync(main.file));
    } catch (err) {
      throw new ConfigErrors([new ConfigError(main.file, 0, '-f', fsMessage(err))]);
    }
  }
  reader.files.push(main.file);
  reader.readText(main.file, text, nodes, 0);
  return { nodes, files: reader.files, serverRoot: reader.serverRoot, errors: reader.errors };
}

class Reader {
  readonly files: string[] = [];
  readonly errors: ConfigError[] = [];
  serverRoot: string;
  /** Real paths of the files being read, outermost first, to catch Include loops. */
  readonly including: string[] = [];
  private readonly use: UseContext;

  constructor(private readonly options: ReadOptions) {
    this.serverRoot = options.configDir;
    // Whatever is decided while reading is decided at server level.
    this.use = { context: 'server', sectionArg: '', configDir: options.configDir };
  }

  /** `depth` counts the sections the text is nested in, through Includes. */
  readText(file: string, text: string, into: Node[], depth: number): void {
    const frames: Frame[] = [];
    for (const { line, text: raw } of logicalLines(text)) {
      const target = frames.length === 0 ? into : frames[frames.length - 1].into;
      if (target === null) {
        this.follow(raw, frames, file, line);
        continue;
      }
      let shape: LineShape;
      try {
        shape = shapeOf(substituteEnv(raw, this.options.env));
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        target.push(errorNode(file, line, labelOf(raw), err.message));
        this.follow(raw, frames, file, line);
        continue;
      }
      const nested = depth + frames.filter((f) => f.block).length;
      if (shape.kind === 'close') this.close(shape.name, frames, file, line);
      else if (shape.kind === 'open') frames.push(this.open(shape.name, shape.args, target, { file, line }));
      else this.directive(shape.name, shape.args, target, { file, line }, nested);
    }
    for (const frame of frames) {
      this.errors.push(new ConfigError(file, frame.line, `<${frame.name}>`, 'is not closed before the end of the file'));
    }
  }

  /** Keeps track of nesting where the lines themselves are not read. */
  private follow(raw: string, frames: Frame[], file: string, line: number): void {
    const { kind, name } = peekShape(raw);
    if (kind === 'open') frames.push({ name, line, into: null, block: false });
    else if (kind === 'close') this.close(name, frames, file, line);
  }

  private close(name: string, frames: Frame[], file: string, line: number): void {
    const same = (frame: Frame): boolean => frame.name.toLowerCase() === name.toLowerCase();
    const top = frames[frames.length - 1];
    if (top && same(top)) {
      frames.pop();
      return;
    }
    const message = top ? `expected </${top.name}> but saw </${name}>` : `has no matching <${name}>`;
    this.errors.push(new ConfigError(file, line, `</${name}>`, message));
    // Carry on as if the containers opened inside the one it names were closed too, or,
    // when it names none that is open, as if it were a misspelt close of the innermost.
    const match = frames.map(same).lastIndexOf(true);
    frames.length = match >= 0 ? match : Math.max(frames.length - 1, 0);
  }

  private open(name: string, args: string[], target: Node[], at: Located): Frame {
    const skip: Frame = { name, line: at.line, into: null, block: false };
    const found = findDirective(name);
    if (!found?.spec.opens) {
      const message = found ? `${found.spelling} is not a container` : unknownDirectiveMessage(name);
      target.push(errorNode(at.file, at.line, `<${name}>`, message));
      return skip;
    }
    if (found.spec.opens !== 'conditional') {
      const node: SectionNode = { kind: 'section', name, args, ...at, children: [] };
      target.push(node);
      return { name, line: at.line, into: node.children, block: true };
    }
    const spec = found.spec === directives.IfModule ? directives.IfModule : directives.IfDefine;
    let condition: Condition;
    try {
      condition = parseUse(spec, args, this.use);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      target.push(errorNode(at.file, at.line, `<${found.spelling}>`, err.message));
      return skip;
    }
    let holds: boolean;
    if (spec === directives.IfDefine) {
      holds = this.options.defines.has(condition.name);
    } else {
      const module = findModule(condition.name);
      const mpm = module && mpmOfModule(module);
      if (mpm !== undefined) {
        const children: Node[] = [];
        target.push({ kind: 'if-mpm', label: `<${name} ${args[0]}>`, mpm, negate: condition.negate, ...at, children });
        return { name, line: at.line, into: children, block: true };
      }
      holds = module !== undefined;
    }
    return holds !== condition.negate ? { name, line: at.line, into: target, block: false } : skip;
  }

  private directive(name: string, args: string[], target: Node[], at: Located, depth: number): void {
    const spec = findDirective(name)?.spec;
    if (spec === directives.Include || spec === directives.IncludeOptional) {
      this.include(spec === directives.IncludeOptional, args, target, at, depth);
      return;
    }
    // Include below uses the ServerRoot above it, as in Apache; inside a section the
    // parser reports the misplaced ServerRoot instead.
    if (spec === directives.ServerRoot && depth === 0) {
      this.serverRoot = parseOrSkip(directives.ServerRoot, args, this.use) ?? this.serverRoot;
    }
    target.push({ kind: 'directive', name, args, ...at });
  }

  private include(optional: boolean, args: string[], target: Node[], at: Located, depth: number): void {
    const spec = optional ? directives.IncludeOptional : directives.Include;
    const fail = (message: string): void => {
      target.push(errorNode(at.file, at.line, spec.name, message));
    };
    let pattern: string;
    let files: string[];
    try {
      pattern = path.resolve(this.serverRoot, parseUse(spec, args, this.use));
      files = includedFiles(pattern);
    } catch (err) {
      fail(err instanceof ValueError ? err.message : fsMessage(err));
      return;
    }
    if (files.length === 0) {
      if (!optional) {
        fail(`${hasWildcard(pattern) ? 'no file matches' : 'no such file:'} ${pattern} (IncludeOptional allows that)`);
      }
      return;
    }
    for (const file of files) {
      let real: string;
      let text: string;
      try {
        real = fs.realpathSync(file);
        text = fs.readFileSync(real, 'utf8');
      } catch (err) {
        fail(fsMessage(err));
        continue;
      }
      if (this.including.includes(real)) {
        fail(`include loop: ${[...this.including, real].join(' -> ')}`);
        continue;
      }
      if (!this.files.includes(file)) this.files.push(file);
      this.including.push(real);
      this.readText(file, text, target, depth);
      this.including.pop();
    }
  }
}

function errorNode(file: string, line: number, label: string, message: string): Node {
  return { kind: 'error', error: new ConfigError(file, line, label, message) };
}

function labelOf(raw: string): string {
  const { kind, name } = peekShape(raw);
  return kind === 'close' ? `</${name}>` : directiveLabel(name, kind === 'open');
}

/** "cannot read /etc/x.conf: permission denied" from Node's "EACCES: permission denied, open '/etc/x.conf'". */
export function fsMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = /^\w+: ([^,]+)/.exec(e.message)?.[1] ?? e.message;
  return e.path === undefined ? reason : `cannot read ${e.path}: ${reason}`;
}
