// The MPM and the process model: children, threads, spares, limits, listeners, identity.
import {
  groupName,
  integer,
  mpmNames,
  nonEmpty,
  one,
  seconds,
  serverOnly,
  table,
  threaded,
  userName,
} from '../directive-spec';
import { parseEnum, parseListen, parsePositiveNumber } from '../values';


export const mpmDirectives = table({
  MPM: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'MPM prefork|worker|event', default: 'event',
    summary: 'Multi-processing module: how children and their request slots are organised',
    parse: (args) => parseEnum(args[0], mpmNames),
  },
  StartServers: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'StartServers number', default: 'number of CPUs',
    summary: 'Number of child server processes created at startup',
    parse: integer({ min: 1, max: 20000 }),
  },
  MinSpareServers: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['prefork'],
    syntax: 'MinSpareServers number', default: '2',
    summary: 'Minimum number of idle child server processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  MaxSpareServers: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['prefork'],
    syntax: 'MaxSpareServers number', default: '8',
    summary: 'Maximum number of idle child server processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  MinSpareThreads: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'MinSpareThreads number', default: 'ThreadsPerChild',
    summary: 'Minimum number of idle threads (request slots) available to handle request spikes',
    parse: integer({ min: 1 }),
  },
  MaxSpareThreads: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'MaxSpareThreads number', default: 'ThreadsPerChild × max(StartServers, 2)',
    summary: 'Maximum number of idle threads (request slots)',
    parse: integer({ min: 1 }),
  },
  ServerLimit: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ServerLimit number', default: '256 (prefork), 16 (worker, event)',
    summary: 'Upper limit on configurable number of processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  ThreadLimit: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'ThreadLimit number', default: '64 (worker), 256 (event)',
    summary: 'Upper limit on the configurable number of threads (request slots) per child process',
    parse: integer({ min: 1, max: 20000 }),
  },
  ThreadsPerChild: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'ThreadsPerChild number', default: '8 (worker), 64 (event)',
    summary: 'Number of threads (worker) or request slots (event) each child process has',
    parse: integer({ min: 1, max: 20000 }),
  },
  MaxRequestWorkers: {
    module: 'mpm', contexts: serverOnly, arity: one, aliases: ['MaxClients'],
    syntax: 'MaxRequestWorkers number', default: 'ServerLimit × ThreadsPerChild',
    summary: 'Maximum number of connections that will be processed simultaneously',
    parse: integer({ min: 1 }),
  },
  MaxConnectionsPerChild: {
    module: 'mpm', contexts: serverOnly, arity: one, aliases: ['MaxRequestsPerChild'],
    syntax: 'MaxConnectionsPerChild number|unlimited', default: '0 (unlimited)',
    summary: 'Limit on the number of connections that an individual child server will handle during its life',
    parse: integer({ min: 0, unlimited: 0 }),
  },
  AsyncRequestWorkerFactor: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['event'],
    syntax: 'AsyncRequestWorkerFactor factor', default: '2',
    summary: 'Limit concurrent connections per process: ThreadsPerChild + factor × idle slots',
    parse: (args) => parsePositiveNumber(args[0]),
  },
  GracefulShutdownTimeout: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'GracefulShutdownTimeout duration', default: '30s',
    summary: 'Timeout after which a gracefully stopped server exits (0 is replaced by 30s: draining is always bounded)',
    parse: seconds(),
  },
  Listen: {
    module: 'mpm', contexts: serverOnly, arity: [1, 2],
    syntax: 'Listen [IP-address:]port [http|https]', default: 'none: at least one is required',
    summary: 'IP addresses and ports that the server listens to (repeatable)',
    parse: (args) => parseListen(args[0], args[1]),
  },
  ListenBacklog: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ListenBacklog backlog', default: '511',
    summary: 'Maximum length of the queue of pending connections',
    parse: integer({ min: 1, max: 65535 }),
  },
  User: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'User unix-userid', default: 'none (the user who started mpmproxy)',
    summary: 'The userid under which children answer requests when started as root',
    parse: (args) => userName(args[0]),
  },
  Group: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'Group unix-group', default: 'none (the group of the user who started mpmproxy)',
    summary: 'Group under which children answer requests when started as root',
    parse: (args) => groupName(args[0]),
  },
  PidFile: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'PidFile filename', default: 'DefaultRuntimeDir/mpmproxy.pid',
    summary: 'File where the server records the process ID of the master',
    parse: nonEmpty,
  },
});
