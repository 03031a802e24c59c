// Every stable error code is documented, and every documented code exists.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as errors from '../src/errors';
import { repoRoot } from './helpers/daemon';

test('every error code is documented in docs/errors.md and none is stale', () => {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`(MPM_ERR_[A-Z_]+)`/g)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), [...errors.errorCodes].sort());
});

test('each error class carries its code', () => {
  const made = [
    new errors.ConfigError('f.conf', 3, 'StartServers', 'bad'),
    new errors.ConfigErrors([]),
    new errors.NativeAddonError('x'),
    new errors.SharedMemoryError('x'),
    new errors.ListenError('x'),
    new errors.PidFileError('x'),
    new errors.PrivilegeError('x'),
    new errors.LogFileError('x'),
    new errors.TlsError('x'),
    new errors.UsageError('x'),
  ];
  assert.deepEqual(
    made.map((e) => e.code).sort(),
    [...errors.errorCodes].sort(),
  );
  assert.equal(made[0].message, 'f.conf:3: StartServers: bad');
});
