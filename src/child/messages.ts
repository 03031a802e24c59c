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
    }
  | { type: 'graceful' }
  | { type: 'stop' };

export type ChildMessage = { type: 'ready' };
