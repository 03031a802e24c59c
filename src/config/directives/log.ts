// The error log and its levels; the access logs (mod_log_config) and their formats.
import { parseLogFormat } from '../../log/log-format';
import { nonEmpty, one, oneOrMore, serverOnly, serverOrHost, table } from '../directive-spec';
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

/** A file (relative to ServerRoot) or stderr; checked here, resolved in settings.ts. */
function accessLogTarget(args: readonly string[]): string {
  const target = nonEmpty(args);
  const word = target.toLowerCase();
  if (word === 'stderr') return word;
  if (target.startsWith('|')) throw new ValueError('piped logs are not supported; log to a file or stderr');
  if (word === 'syslog' || word.startsWith('syslog:')) throw new ValueError('writes to a file or stderr (under systemd stderr is the journal)');
  return target;
}

/** A format string is checked where it is written; a word without % names a format (a
 * nickname), resolved once the whole configuration is read (src/config/access-logs.ts). */
function formatOrNickname(text: string): string {
  if (text.includes('%')) parseLogFormat(text);
  return text;
}

export interface LogFormatValue {
  /** A format string, or (alone, without %) a nickname. */
  format: string;
  /** The name it defines; null: the format of TransferLog. */
  nickname: string | null;
}

export interface CustomLogValue {
  target: string;
  /** A format string or a nickname. */
  format: string;
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
  LogFormat: {
    module: 'log', contexts: serverOrHost, arity: [1, 2],
    syntax: 'LogFormat format|nickname [nickname]', default: '"%h %l %u %t \\"%r\\" %>s %b"',
    summary: 'Describes a format for use in a log file: named, or without a name the format of TransferLog',
    parse: (args): LogFormatValue => {
      if (args.length === 1) return { format: formatOrNickname(nonEmpty(args)), nickname: null };
      parseLogFormat(args[0]);
      if (args[1].toLowerCase() === 'json') throw new ValueError('json names the built-in JSON format; choose another nickname');
      return { format: args[0], nickname: args[1] };
    },
  },
  CustomLog: {
    module: 'log', contexts: serverOrHost, arity: [2, Infinity],
    syntax: 'CustomLog file|stderr format|nickname', default: 'none',
    summary: 'Sets filename and format of a log file (nicknames: common, combined, json, ...)',
    parse: (args): CustomLogValue => {
      if (/^(env|expr)=/.test(args[2] ?? '')) throw new ValueError(`conditional logging (${args[2]}) is not supported`);
      if (args.length > 2) throw new ValueError('takes two arguments: CustomLog file|stderr format|nickname (quote a format with blanks)');
      return { target: accessLogTarget(args), format: formatOrNickname(nonEmpty(args.slice(1))) };
    },
  },
  TransferLog: {
    module: 'log', contexts: serverOrHost, arity: one,
    syntax: 'TransferLog file|stderr', default: 'none',
    summary: 'Specifies the location of a log file in the format of the last LogFormat without a nickname',
    parse: accessLogTarget,
  },
});
