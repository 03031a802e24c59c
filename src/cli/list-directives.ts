// `mpmproxy -L`: every directive with its syntax, contexts, default and meaning, like `httpd -L`.

import { directiveFacts } from '../config/directive-facts';
import { directiveList, displayName } from '../config/directives';

export function listDirectives(): string {
  return directiveList
    .map((spec) => {
      const facts = directiveFacts(spec).map(([label, text]) => `\t${`${label}:`.padEnd(9)}${text}\n`);
      return `${displayName(spec)} (${spec.module})\n\t${spec.summary}\n${facts.join('')}`;
    })
    .join('');
}
