// Built-in handlers: the scoreboard page and the default page.
import { one, table } from '../directive-spec';
import { parseEnum } from '../values';

export const statusDirectives = table({
  SetHandler: {
    module: 'status', contexts: ['location'], arity: one,
    syntax: 'SetHandler server-status|default-page', default: 'none',
    summary: 'Forces all matching requests to be processed by the handler: the status page or the default page',
    parse: (args) => parseEnum(args[0], ['server-status', 'default-page']),
  },
});
