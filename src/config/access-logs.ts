// The access logs of the main server and of each virtual host: CustomLog and TransferLog lines
// with their formats resolved. As mod_log_config does once the configuration is read, a
// nickname may be defined after the CustomLog that uses it; a virtual host sees the main
// server's nicknames and its own, and one without CustomLog or TransferLog logs to the main
// server's logs.
import { ConfigError } from '../errors';
import { predefinedFormats } from '../log/log-format';
import { directives, usesOf } from './directives';
import type { CustomLogValue, LogFormatValue } from './directives/log';
import { nearest } from './suggest';
import type { AccessLogFormat, AccessLogSpec, DirectiveUse, Section } from './types';

interface Formats {
  nicknames: ReadonlyMap<string, AccessLogFormat>;
  /** What TransferLog writes: the last LogFormat without a nickname, else common. */
  transfer: AccessLogFormat;
}

const builtin: Formats = {
  nicknames: new Map<string, AccessLogFormat>([
    ...Object.entries(predefinedFormats).map(([name, text]): [string, AccessLogFormat] => [name, { kind: 'text', text }]),
    ['json', { kind: 'json' }],
  ]),
  transfer: { kind: 'text', text: predefinedFormats.common },
};

interface SectionLogs {
  logs: AccessLogSpec[];
  formats: Formats;
  errors: ConfigError[];
}

/** A format string, or a nickname (case does not matter, as in httpd); a word that is neither
 * is an error here, where httpd would log the word itself on every line. */
function resolve(written: string, nicknames: ReadonlyMap<string, AccessLogFormat>): AccessLogFormat | string {
  if (written.includes('%')) return { kind: 'text', text: written };
  const found = nicknames.get(written.toLowerCase());
  if (found) return found;
  const guess = nearest(written, nicknames.keys());
  return `unknown LogFormat nickname ${JSON.stringify(written)}${guess ? `, did you mean ${guess}?` : ''} (a format needs at least one %)`;
}

function sectionLogs(section: Section, inherited: Formats, fromRoot: (p: string) => string): SectionLogs {
  const errors: ConfigError[] = [];
  const fail = (use: DirectiveUse, message: string): void => {
    errors.push(new ConfigError(use.file, use.line, use.name, message));
  };
  const nicknames = new Map(inherited.nicknames);
  const defaults: Array<DirectiveUse & { value: LogFormatValue }> = [];
  for (const use of usesOf(section, directives.LogFormat)) {
    if (use.value.nickname === null) defaults.push(use);
    else nicknames.set(use.value.nickname.toLowerCase(), { kind: 'text', text: use.value.format });
  }
  // As in httpd, TransferLog uses the last LogFormat without a nickname wherever it is written.
  let transfer = inherited.transfer;
  for (const use of defaults) {
    const found = resolve(use.value.format, nicknames);
    if (typeof found === 'string') fail(use, found);
    else transfer = found;
  }
  const logs: AccessLogSpec[] = [];
  for (const use of section.directives) {
    if (use.name === directives.TransferLog.name) {
      logs.push({ target: logTarget(use.value as string, fromRoot), format: transfer });
    } else if (use.name === directives.CustomLog.name) {
      const value = use.value as CustomLogValue;
      const found = resolve(value.format, nicknames);
      if (typeof found === 'string') fail(use, found);
      else logs.push({ target: logTarget(value.target, fromRoot), format: found });
    }
  }
  return { logs, formats: { nicknames, transfer }, errors };
}

function logTarget(target: string, fromRoot: (p: string) => string): string {
  return target === 'stderr' ? target : fromRoot(target);
}

export interface AccessLogs {
  server: AccessLogSpec[];
  /** A virtual host's own logs, or the main server's when it has none. */
  forHost(host: Section): AccessLogSpec[];
  errors: ConfigError[];
}

/** `fromRoot` resolves a relative log path against ServerRoot. */
export function resolveAccessLogs(root: Section, fromRoot: (p: string) => string): AccessLogs {
  const server = sectionLogs(root, builtin, fromRoot);
  const hosts = root.sections.filter((s) => s.context === 'virtualhost').map((host) => ({ host, ...sectionLogs(host, server.formats, fromRoot) }));
  return {
    server: server.logs,
    forHost: (host) => {
      const own = hosts.find((h) => h.host === host)?.logs ?? [];
      return own.length > 0 ? own : server.logs;
    },
    errors: [...server.errors, ...hosts.flatMap((h) => h.errors)],
  };
}
