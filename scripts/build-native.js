'use strict';
// Builds the shared-memory/syscall addon. A failure here stops the install with the
// compiler's own output and a hint, because the daemon cannot run without the addon.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const gyp = process.env.npm_config_node_gyp;
const args = ['rebuild', '--directory', path.join(__dirname, '..', 'native')];
const cmd = gyp ? process.execPath : 'node-gyp';
const argv = gyp ? [gyp, ...args] : args;
const r = spawnSync(cmd, argv, { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(
    '\nmpmproxy: the native addon (native/) failed to build.\n' +
      'It needs python3, make and a C compiler (Debian: apt-get install python3 make gcc)\n' +
      "and Node's headers (npm's nodedir setting). Fix the error above, then run: npm run build:native\n",
  );
  process.exit(1);
}
