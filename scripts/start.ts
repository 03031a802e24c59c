// `npm start`: the demo backend and the daemon (embedded configuration with its HTTPS example,
// in the foreground), stopped together by Ctrl-C. The first start writes the demo certificate.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeSelfSigned } from '../src/tls/selfsigned';

const root = path.resolve(__dirname, '..', '..');
// Where the embedded configuration's relative paths start: the working directory.
if (!fs.existsSync(path.join('demo-tls', 'localhost.crt'))) writeSelfSigned('localhost', 'demo-tls');
const backend = spawn(process.execPath, [path.join(root, 'dist', 'src', 'demo', 'backend.js')], { stdio: 'inherit' });
const daemon = spawn(process.execPath, [path.join(root, 'bin', 'mpmproxy.js'), '-D', 'FOREGROUND', '-D', 'HTTPS', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// The terminal's Ctrl-C reaches both children itself; a TERM sent to this script is passed on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => {
  daemon.kill('SIGTERM');
  backend.kill('SIGTERM');
});
daemon.on('exit', (code) => {
  backend.kill('SIGTERM');
  process.exitCode = code ?? 1;
});
