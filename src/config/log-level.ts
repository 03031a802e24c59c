// LogLevel's words: Apache's severities, and the parts of mpmproxy that take their own level.

import type { LogLevelName } from './types';
import { parseEnum, ValueError } from './values';

export const logLevelNames: readonly LogLevelName[] = [
  'emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug', 'trace1',
];

export const logModuleNames = ['core', 'mpm', 'proxy', 'status', 'config', 'child', 'master', 'log', 'session', 'ssl', 'http2', 'proxy_wstunnel'] as const;

/** One LogLevel line. As in Apache, a line with a plain level resets every per-module level
 * set before it; its own `module:level` words then apply. */
export interface LogLevelUse {
  level: LogLevelName | null;
  modules: Record<string, LogLevelName>;
}

export function parseLogLevel(args: readonly string[]): LogLevelUse {
  const use: LogLevelUse = { level: null, modules: {} };
  for (const word of args) {
    const colon = word.indexOf(':');
    if (colon >= 0) {
      const module = parseEnum(word.slice(0, colon), logModuleNames, 'module');
      use.modules[module] = parseEnum(word.slice(colon + 1), logLevelNames, 'level');
    } else if (use.level === null) {
      use.level = parseEnum(word, logLevelNames, 'level');
    } else {
      throw new ValueError(`takes one plain level, not both ${use.level} and ${word}`);
    }
  }
  return use;
}
