// Which files an Include names: Apache's rules. Wildcards (* ? [...]) may stand in any
// path component, matches are read in alphabetical order, a wildcard does not match a
// leading dot, and a directory stands for every file below it.

import fs from 'node:fs';
import path from 'node:path';

export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** The files `pattern` (an absolute path) names, sorted; empty when it names nothing. */
export function includedFiles(pattern: string): string[] {
  const [top, ...components] = pattern.split(path.sep);
  let candidates = [top === '' ? path.sep : top];
  for (const component of components) {
    if (component === '') continue;
    candidates = hasWildcard(component)
      ? candidates.flatMap((dir) => matchEntries(dir, component))
      : candidates.map((dir) => path.join(dir, component));
  }
  return candidates.flatMap(filesBelow);
}

function matchEntries(dir: string, component: string): string[] {
  const re = wildcardRegExp(component);
  return entries(dir)
    .filter((name) => re.test(name))
    .map((name) => path.join(dir, name));
}

function filesBelow(file: string): string[] {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat === undefined) return [];
  if (!stat.isDirectory()) return [file];
  return entries(file)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) => filesBelow(path.join(file, name)));
}

/** A directory's entries, sorted; none when it is missing or not a directory (a wildcard
 * that finds nothing), while other errors (EACCES) reach the operator. */
function entries(directory: string): string[] {
  try {
    return fs.readdirSync(directory).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/** fnmatch(3) with FNM_PERIOD, for one path component. */
function wildcardRegExp(component: string): RegExp {
  let source = '';
  for (let i = 0; i < component.length; i++) {
    const c = component[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[' && component.indexOf(']', i + 2) > 0) {
      const end = component.indexOf(']', i + 2);
      const body = component.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      source += `[${body}]`;
      i = end;
    } else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(component.startsWith('.') ? `^${source}$` : `^(?!\\.)${source}$`);
}
