// Opens the store SessionStore names, in whichever process asks: each serving event loop opens
// its own (its own SQLite handle, its own MariaDB pool); the master opens one for its reaper.
import type { Settings } from '../config/types';
import { attachCacheSegment, cacheSegmentName } from '../shm/cache-segment';
import { ShmSessionStore } from './shm-store';
import type { SessionStore } from './store';

export function openSessionStore(s: Settings, masterPid: number): SessionStore {
  const session = s.session;
  switch (session.store) {
    case 'shm':
      return new ShmSessionStore(attachCacheSegment(cacheSegmentName(masterPid)), session.memorySize, session.limit);
    default:
      throw new Error(`session store ${session.store} is not built yet`);
  }
}
