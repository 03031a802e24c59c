// `npm start`: the demo backend and the daemon (embedded configuration, in the foreground),
// stopped together by Ctrl-C.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const backend = spawn(process.execPath, [path.join(root, 'dist', 'src', 'demo', 'backend.js')], { stdio: 'inherit' });
const daemon = spawn(process.execPath, [path.join(root, 'bin', 'mpmproxy.js'), '-D', 'FOREGROUND', ...process.argv.slice(2)], {
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
