// State-aware sessions (docs/state-aware.md): sessions whose requests all go to the backend over
// one private connection, held by one child and reached from the others over Unix sockets.
import { integer, one, seconds, serverOnly, serverOrHost, table } from '../directive-spec';
import type { ContextName } from '../types';
import { parseEnum } from '../values';

export const stateAwareModes = ['auto', 'on', 'off'] as const;
export type StateAwareMode = (typeof stateAwareModes)[number];

const hostOrLocation: readonly ContextName[] = [...serverOrHost, 'location'];

export const stateAwareDirectives = table({
  StateAware: {
    module: 'proxy', contexts: hostOrLocation, arity: one,
    syntax: 'StateAware auto|on|off', default: 'auto',
    summary: 'Whether sessions on this path become state-aware: auto when the backend asks (X-StateAware: on, or an NTLM/Negotiate handshake), on from their first request, off never',
    parse: (args) => parseEnum(args[0].toLowerCase(), stateAwareModes),
  },
  StateAwareSessionTimeout: {
    module: 'proxy', contexts: serverOnly, arity: one,
    syntax: 'StateAwareSessionTimeout duration', default: '5mins',
    summary: 'A state-aware session idle this long ends (its private backend connection closes); also how long a retiring child keeps the sessions it owns',
    parse: seconds({ positive: true }),
  },
  StateAwareSessionLimit: {
    module: 'proxy', contexts: serverOnly, arity: one,
    syntax: 'StateAwareSessionLimit number', default: '1024',
    summary: 'State-aware sessions the whole server holds at once (sizes the shared owner table; a change needs a full stop and start)',
    parse: integer({ min: 1, max: 1 << 19 }),
  },
});
