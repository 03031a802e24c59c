// A process that writes to a cache segment for test/cache-segment.test.ts: `exit` maps it and
// leaves; `write N` rewrites keys key0..key(N-1) with self-checking values until killed.
import { attachCacheSegment } from '../../src/shm/cache-segment';

const [name, mode, keys] = process.argv.slice(2);
const cache = attachCacheSegment(name);
if (mode === 'write') {
  for (let n = 1; ; n++) {
    const k = n % Number(keys);
    const text = `${n}:${String(n).repeat(n % 50)}`;
    cache.put(`key${k}`, 1, Buffer.from(text), 0, 'replace');
  }
}
