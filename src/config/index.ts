// The configuration subsystem's entry points: load (parse and validate), then resolve.

import path from 'node:path';
import { configDirectory, embeddedConfig, embeddedConfigName } from './embedded';
import { parseConfig } from './parser';
import type { ParsedConfig } from './types';

export interface LoadOptions {
  /** The main configuration file. */
  file?: string;
  /** Configuration text: parsed under `file`'s name when both are given, else as `(embedded)`.
   * Without either, the embedded default configuration is loaded. */
  text?: string;
  /** Names given with -D, for <IfDefine>. */
  defines?: readonly string[];
  /** For ${VAR} substitution; process.env when absent. */
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates a configuration. Throws ConfigErrors listing every problem found,
 * each as "file:line: Directive: message". */
export function loadConfig(options: LoadOptions = {}): ParsedConfig {
  const file = options.file === undefined ? embeddedConfigName : path.resolve(options.file);
  const text = options.file === undefined ? (options.text ?? embeddedConfig) : options.text;
  return parseConfig({
    file,
    text,
    defines: options.defines ?? [],
    env: options.env ?? process.env,
    configDir: configDirectory(file),
  });
}

export { resolveSettings, type ResolveOptions } from './settings';
export { embeddedConfig, embeddedConfigName } from './embedded';
export { builtinModules } from './modules';
export type * from './types';
