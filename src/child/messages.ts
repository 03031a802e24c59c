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
      /** The master opened the ErrorLog file as this child's stderr. */
      errorLogOnStderr: boolean;
    }
  | { type: 'graceful' }
  | { type: 'stop' };

export type ChildMessage = { type: 'ready' };

/** Exit status of a child that could not start at all (httpd's APEXIT_CHILDFATAL): every child
 * would fail the same way, so the master stops instead of replacing it for ever. */
export const CHILD_FATAL_EXIT = 15;
