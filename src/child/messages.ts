// The master <-> child control channel (Node's IPC channel, structured-clone serialization).
import type { Settings } from '../config/types';
import type { InheritedListener } from './connection-server';

export type MasterMessage =
  | {
      type: 'start';
      settings: Settings;
      processSlot: number;
      generation: number;
      listeners: InheritedListener[];
      scoreboardName: string;
      /** The shared health table of backend members (src/shm/health.ts). */
      healthName: string;
      /** The TLS session cache and ticket keys (src/shm/tls-cache.ts). */
      tlsCacheName: string;
      /** The master opened the ErrorLog file as this child's stderr. */
      errorLogOnStderr: boolean;
    }
  | { type: 'graceful' }
  | { type: 'stop' }
  /** Past the memory redline: drop what can be spared (src/limits/memory-child.ts). */
  | { type: 'prune' }
  /** Over LimitMemory with MemoryPolicy abort: dump core. */
  | { type: 'abort' };

export type ChildMessage = { type: 'ready' };

/** Exit status of a child that could not start at all (httpd's APEXIT_CHILDFATAL): every child
 * would fail the same way, so the master stops instead of replacing it for ever. */
export const CHILD_FATAL_EXIT = 15;
