// The version printed by -v/-V and shown on the default and status pages.
export const version: string = (require('../../package.json') as { version: string }).version;
export const serverVersion = `mpmproxy/${version} (Linux) Node.js/${process.versions.node}`;
