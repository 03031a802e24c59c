// LogFormat strings: parsed and checked once (at configuration time, so a bad one is an error
// at its file:line), then compiled into one function per format that concatenates literal
// text and item values. A log line costs only its items: no parsing or matching per request.
import { ValueError } from '../config/values';
import type { Exchange } from './exchange';
import { formatItem, type Item } from './format-items';

/** Apache's predefined nicknames (httpd's default configuration defines them the same way). */
export const predefinedFormats: Readonly<Record<string, string>> = {
  common: '%h %l %u %t "%r" %>s %b',
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  referer: '%{Referer}i -> %U',
  agent: '%{User-agent}i',
};

export interface ParsedFormat {
  parts: Array<string | Item>;
  /** Reads the name of the virtual host that answered (%v, and %V without a Host header). */
  usesServerName: boolean;
}

/** Apache's literal escapes in a format: \n, \t, and a backslash before any other character. */
function literalChar(text: string, i: number): [string, number] {
  if (text[i] !== '\\' || i + 1 >= text.length) return [text[i], i + 1];
  const next = text[i + 1];
  return [next === 'n' ? '\n' : next === 't' ? '\t' : next, i + 2];
}

/** Parses `%[!][codes][<>][{arg}]letter` items and literal text; throws ValueError. */
export function parseLogFormat(text: string): ParsedFormat {
  const parts: Array<string | Item> = [];
  let literal = '';
  let usesServerName = false;
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '%') {
      const [c, next] = literalChar(text, i);
      literal += c;
      i = next;
      continue;
    }
    const start = i++;
    if (text[i] === '%') {
      literal += '%';
      i++;
      continue;
    }
    let negate = false;
    const codes: number[] = [];
    let arg: string | null = null;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ValueError(`${text.slice(start)}: a % at the end of the format needs a directive letter`);
      if (c === '!') negate = true;
      else if (c === '<' || c === '>' || c === ',') {
        // < and > choose the original or final request of an internal redirect; mpmproxy has none.
      } else if (c >= '0' && c <= '9') {
        const m = /^\d+/.exec(text.slice(i))?.[0] as string;
        const code = Number(m);
        if (m.length !== 3 || code < 100) throw new ValueError(`${text.slice(start, i + m.length)}: ${m} is not an HTTP status code`);
        codes.push(code);
        i += m.length - 1;
      } else if (c === '{') {
        const close = text.indexOf('}', i);
        if (close < 0) throw new ValueError(`${text.slice(start)}: { without a closing }`);
        arg = text.slice(i + 1, close);
        i = close;
      } else break;
      i++;
    }
    const letter = text[i++];
    let item = formatItem(letter, arg);
    if (codes.length > 0) item = onlyFor(item, new Set(codes), negate);
    if (literal) parts.push(literal);
    literal = '';
    parts.push(item);
    usesServerName ||= letter === 'v' || letter === 'V';
  }
  if (literal) parts.push(literal);
  return { parts, usesServerName };
}

/** Apache's `%400,501{User-agent}i` (only for these statuses) and `%!200,304i` (all but these). */
function onlyFor(item: Item, codes: ReadonlySet<number>, negate: boolean): Item {
  return (x) => (codes.has(x.status) !== negate ? item(x) : '-');
}

export type LineFormat = (x: Exchange) => string;

/** One function per format: literal text inlined, each item called once, a newline at the end. */
export function compileLogFormat(text: string): { line: LineFormat; usesServerName: boolean } {
  const { parts, usesServerName } = parseLogFormat(text);
  const items = parts.filter((p): p is Item => typeof p !== 'string');
  let n = 0;
  const terms = parts.map((p) => (typeof p === 'string' ? JSON.stringify(p) : `i${n++}(x)`));
  const params = items.map((_, k) => `i${k}`);
  // Straight-line concatenation that V8 optimizes as one expression; the literals come from the
  // configuration and are embedded as JSON string literals, never as code.
  const make = new Function(...params, `return function logLine(x) { return "" + ${[...terms, '"\\n"'].join(' + ')}; };`);
  return { line: make(...items) as LineFormat, usesServerName };
}
