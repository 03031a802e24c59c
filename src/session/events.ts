// Session lifecycle events, in-process: other modules of the same event loop (state-aware
// sessions, for one) subscribe to learn when sessions begin, change id and end. Each event is
// emitted by the loop that caused it; 'expired' by the loop that found a session past its end
// on a request (the master's reaper removes the others silently).
import { EventEmitter } from 'node:events';

export interface SessionEventMap {
  created: [{ id: string }];
  /** The session became authenticated; with renewal its id changed from `oldId` to `id`. */
  authenticated: [{ id: string; oldId: string; principal: string }];
  invalidated: [{ id: string }];
  expired: [{ id: string }];
}

export const sessionEvents = new EventEmitter<SessionEventMap>();
