// LimitMemory's measure, thresholds and V8 heap limit, without a daemon.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childExecArgv, heapLimitMb, memoryLevel, parseMemoryUse, serverMemory } from '../src/limits/memory';

const MiB = 2 ** 20;

describe('the measure', () => {
  it('reads VmRSS, RssAnon and the shared pages from /proc/<pid>/status', () => {
    const status = 'Name:\tnode\nVmRSS:\t   62720 kB\nRssAnon:\t   18104 kB\nRssFile:\t   44592 kB\nRssShmem:\t      24 kB\nThreads:\t7\n';
    assert.deepEqual(parseMemoryUse(status), { rss: 62720 * 1024, anon: 18104 * 1024, shared: (44592 + 24) * 1024 });
  });

  it('counts what processes share once for the whole server', () => {
    const child = { rss: 60 * MiB, anon: 20 * MiB, shared: 40 * MiB };
    const master = { rss: 55 * MiB, anon: 15 * MiB, shared: 38 * MiB };
    assert.equal(serverMemory([master, child, child]), (15 + 20 + 20 + 40) * MiB);
  });
});

describe('the thresholds', () => {
  it('are the redline at 85% and the limit itself', () => {
    assert.equal(memoryLevel(84 * MiB, 100 * MiB), 'under');
    assert.equal(memoryLevel(85 * MiB, 100 * MiB), 'redline');
    assert.equal(memoryLevel(100 * MiB, 100 * MiB), 'redline');
    assert.equal(memoryLevel(100 * MiB + 1, 100 * MiB), 'over');
  });
});

describe("a child's V8 heap limit", () => {
  it('is LimitMemory less 32 MB, never under half of it', () => {
    assert.equal(heapLimitMb(512 * MiB), 480);
    assert.equal(heapLimitMb(2048 * MiB), 2016);
    assert.equal(heapLimitMb(48 * MiB), 24);
  });

  it('stays below the limit, so the old space is full only once RSS is past the limit', () => {
    // A child's RSS outside the old space: the node binary's pages alone are about 45 MB.
    const outside = 45 * MiB;
    for (const mb of [48, 64, 100, 512, 4096]) {
      const limit = mb * MiB;
      assert.ok(heapLimitMb(limit) * MiB < limit, `${mb}M`);
      assert.ok(heapLimitMb(limit) * MiB + outside > limit, `${mb}M`);
    }
  });

  it('is a flag only under a LimitMemory', () => {
    assert.deepEqual(childExecArgv(0), []);
    assert.deepEqual(childExecArgv(512 * MiB), ['--max-old-space-size=480']);
  });
});
