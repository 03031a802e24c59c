// What `mpmproxy -L` and docs/directives.md say about a directive, from its table entry.

import { contextLabel, type DirectiveSpec } from './directives';

/** Label and text pairs, in the order both listings show them. */
export function directiveFacts(spec: DirectiveSpec): Array<[string, string]> {
  const facts: Array<[string, string]> = [
    ['Syntax', spec.syntax],
    ['Context', spec.contexts.map(contextLabel).join(', ')],
    ['Default', spec.default],
    ['Module', spec.module],
  ];
  if (spec.mpms) facts.push(['MPMs', spec.mpms.join(', ')]);
  if (spec.aliases.length > 0) facts.push(['Alias', spec.aliases.join(', ')]);
  return facts;
}
