// The modules mpmproxy is built with, by Apache's names, for <IfModule> and `-l`.

import type { MpmName } from './types';

export const builtinModules = [
  'core',
  'mpm_prefork',
  'mpm_worker',
  'mpm_event',
  'proxy',
  'proxy_http',
  'proxy_balancer',
  'lbmethod_byrequests',
  'lbmethod_bybusyness',
  'proxy_hcheck',
  'status',
  'log_config',
  'session',
  'ssl',
  'http2',
  'proxy_wstunnel',
] as const;

export type BuiltinModule = (typeof builtinModules)[number];

/** Accepts every spelling <IfModule> takes in Apache: `proxy`, `mod_proxy.c`, `proxy_module`,
 * and for the MPMs also their source names (`event.c`). Case does not matter. */
export function findModule(written: string): BuiltinModule | undefined {
  let name = written.toLowerCase().replace(/\.c$/, '').replace(/^mod_/, '').replace(/_module$/, '');
  if (name === 'prefork' || name === 'worker' || name === 'event') name = `mpm_${name}`;
  return builtinModules.find((m) => m === name);
}

const mpmModules: Partial<Record<BuiltinModule, MpmName>> = {
  mpm_prefork: 'prefork',
  mpm_worker: 'worker',
  mpm_event: 'event',
};

/** The MPM a module is, if it is one: only the MPM the configuration selects is loaded. */
export function mpmOfModule(module: BuiltinModule): MpmName | undefined {
  return mpmModules[module];
}
