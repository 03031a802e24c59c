// Another process's write to a shm session store, for test/session-shm.test.ts: maps the cache
// segment `name` and, for session `id`, `update`s it to the record given as JSON, or `remove`s
// it, then exits: 0 when done, 3 when the update found no session to replace.
import { attachCacheSegment } from '../../src/shm/cache-segment';
import type { SessionRecord } from '../../src/session/record';
import { ShmSessionStore } from '../../src/session/shm-store';

const [name, op, id, json] = process.argv.slice(2);
const store = new ShmSessionStore(attachCacheSegment(name), 1 << 20, 0);
if (op === 'remove') {
  store.remove(id);
} else {
  const record = JSON.parse(json) as SessionRecord;
  const result = store.update(id, record, record.touched + 3_600_000);
  if (result !== 'ok') process.exitCode = result === 'missing' ? 3 : 1;
}
