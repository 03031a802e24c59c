// Apache httpd's configuration syntax, line by line: continuation, comments, ${VAR}
// substitution, quoted words and container lines. Nothing here knows any directive.

import { ValueError } from './values';

/** One directive's text after continuation lines are joined; `line` is where it starts. */
export interface LogicalLine {
  line: number;
  text: string;
}

export function logicalLines(source: string): LogicalLine[] {
  const lines: LogicalLine[] = [];
  let pending = '';
  let start = 0;
  const physical = source.split(/\r?\n/);
  physical.forEach((raw, i) => {
    if (pending === '') start = i + 1;
    // As in Apache, a trailing backslash joins the next line as it is (its leading blanks
    // included); a doubled backslash is a literal one.
    if (/(^|[^\\])\\$/.test(raw)) {
      pending += raw.slice(0, -1);
      if (i < physical.length - 1) return;
    } else {
      pending += raw;
    }
    const text = pending.trim();
    pending = '';
    // Comments are checked after joining, so a comment ending in a backslash swallows the
    // next line, as it does in Apache.
    if (text !== '' && !text.startsWith('#')) lines.push({ line: start, text });
  });
  return lines;
}

/** Replaces each ${NAME} with the environment variable; an undefined one is an error. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) throw new ValueError(`environment variable ${name} is not defined`);
    return value;
  });
}

/** Splits on blanks. A word that starts with a quote runs to the matching quote; inside it
 * a backslash escapes that quote or another backslash, and is literal before anything else. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let word = '';
      for (i++; text[i] !== c; i++) {
        if (i >= text.length) throw new ValueError(`missing closing ${c} quote`);
        const next = text[i + 1];
        if (text[i] === '\\' && (next === c || next === '\\')) i++;
        word += text[i];
      }
      words.push(word);
      i++;
    } else {
      const end = text.slice(i).search(/\s/);
      const stop = end < 0 ? text.length : i + end;
      words.push(text.slice(i, stop));
      i = stop;
    }
  }
  return words;
}

export type LineShape =
  | { kind: 'directive'; name: string; args: string[] }
  | { kind: 'open'; name: string; args: string[] }
  | { kind: 'close'; name: string };

/** The name a line starts with, quotes and variables left alone: enough to follow the
 * nesting of a section whose contents are skipped. */
export function peekShape(text: string): { kind: LineShape['kind']; name: string } {
  const m = /^(<\/?)?([^\s>]*)/.exec(text)!;
  return { kind: m[1] === '</' ? 'close' : m[1] === '<' ? 'open' : 'directive', name: m[2] };
}

export function shapeOf(text: string): LineShape {
  const { kind, name } = peekShape(text);
  if (kind === 'directive') {
    const [first, ...args] = splitWords(text);
    return { kind, name: first, args };
  }
  if (!text.endsWith('>')) throw new ValueError("is missing its closing '>'");
  if (kind === 'close') {
    if (text.slice(2, -1).trim() !== name) throw new ValueError('takes no arguments');
    return { kind, name };
  }
  if (name === '') throw new ValueError('a container needs a name');
  return { kind, name, args: splitWords(text.slice(1 + name.length, -1)) };
}
