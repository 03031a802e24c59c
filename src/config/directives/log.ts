// The error log and its levels.
import { nonEmpty, one, oneOrMore, serverOnly, table } from '../directive-spec';
import { parseLogLevel } from '../log-level';
import { ValueError } from '../values';

function errorLog(args: readonly string[]): string {
  const target = nonEmpty(args);
  const word = target.toLowerCase();
  if (word === 'stderr' || word === 'syslog') return word;
  if (target.startsWith('|')) throw new ValueError('piped logs are not supported; log to stderr or syslog');
  if (word.startsWith('syslog:')) throw new ValueError('syslog facilities are not supported; write syslog');
  return target;
}

export const logDirectives = table({
  ErrorLog: {
    module: 'log', contexts: serverOnly, arity: one,
    syntax: 'ErrorLog file-path|stderr|syslog', default: 'stderr',
    summary: 'Location where the server will log errors',
    parse: errorLog,
  },
  LogLevel: {
    module: 'log', contexts: serverOnly, arity: oneOrMore,
    syntax: 'LogLevel level [module:level] ...', default: 'warn',
    summary: 'Controls the verbosity of the ErrorLog, for the whole server and per module',
    parse: parseLogLevel,
  },
});
