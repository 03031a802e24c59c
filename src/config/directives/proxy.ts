// Reverse proxying: which paths go to which backends.
import { one, proxyUrl, serverOrHost, table, urlPath, type UseContext } from '../directive-spec';
import { ValueError } from '../values';

/** A ProxyPass target: the backend URL, or null for `!` (do not proxy this path). */
function proxyTarget(text: string): string | null {
  if (text === '!') return null;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') return text;
  throw new ValueError(`must be an http:// or https:// URL, or ! (got ${JSON.stringify(text)})`);
}

export interface ProxyPassValue {
  path: string;
  target: string | null;
}

function proxyPass(args: readonly string[], use: UseContext): ProxyPassValue {
  // Inside <Location> the path is the Location's, as in Apache.
  if (use.context === 'location') {
    if (args.length !== 1) throw new ValueError('takes one argument inside <Location>: ProxyPass url|!');
    return { path: use.sectionArg, target: proxyTarget(args[0]) };
  }
  if (args.length !== 2) throw new ValueError('takes two arguments outside <Location>: ProxyPass path url|!');
  return { path: urlPath(args[0]), target: proxyTarget(args[1]) };
}

export const proxyDirectives = table({
  Proxy: {
    module: 'proxy', contexts: serverOrHost, arity: one, opens: 'proxy',
    syntax: '<Proxy wildcard-url>', default: 'none',
    summary: 'Container for directives applied to proxied resources',
    parse: (args) => proxyUrl(args[0]),
  },
  ProxyPass: {
    module: 'proxy', contexts: [...serverOrHost, 'location'], arity: [1, 2],
    syntax: 'ProxyPass [path] url|!', default: 'none',
    summary: 'Maps a remote http:// or https:// server into the local URL space (inside <Location> without path); ! excludes a path',
    parse: proxyPass,
  },
});
