// The loads the proxy benchmarks put on a server in front of the backend: a small page on
// keep-alive connections, the same with `Connection: close`, and the 64 KiB file on keep-alive
// connections, each from wrk with two threads.
import type { ProxyBackend } from './proxy-backend';
import type { WrkOptions } from './wrk';

export interface ProxyLoad {
  id: 'keep-alive' | 'close' | 'keep-alive-64k';
  label: string;
  large: boolean;
  headers: string[];
}

export const proxyLoads: ProxyLoad[] = [
  { id: 'keep-alive', label: 'keep-alive, small response', large: false, headers: [] },
  { id: 'close', label: '`Connection: close`, small response', large: false, headers: ['Connection: close'] },
  { id: 'keep-alive-64k', label: 'keep-alive, 64 KiB response', large: true, headers: [] },
];

export const WRK_THREADS = 2;
export const WRK_CONNECTIONS = 64;
/** Seconds of load measured, after the warm-up (JIT compilation, backend pools filled). */
export const MEASURED_S = 10;
export const WARMUP_S = 2;

export function loadById(id: string): ProxyLoad {
  const load = proxyLoads.find((l) => l.id === id);
  if (load === undefined) throw new Error(`no load ${id}; the loads are ${proxyLoads.map((l) => l.id).join(', ')}`);
  return load;
}

/** wrk's options for `load` on a server at `port` that forwards to `backend`. */
export function loadOptions(port: number, backend: ProxyBackend, load: ProxyLoad, durationS: number, connections = WRK_CONNECTIONS): WrkOptions {
  return {
    url: `http://127.0.0.1:${port}${load.large ? backend.large : backend.small}`,
    connections,
    threads: WRK_THREADS,
    durationS,
    headers: load.headers,
  };
}
