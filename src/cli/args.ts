// httpd's command line: mpmproxy [-D name] [-f file] [-k start|restart|graceful|graceful-stop|stop]
// [-v] [-V] [-h] [-l] [-L] [-t] [-X]
import { UsageError } from '../errors';

export type KCommand = 'start' | 'stop' | 'restart' | 'graceful' | 'graceful-stop';

export interface CliArgs {
  configFile: string | null;
  defines: string[];
  k: KCommand | null;
  action: 'run' | 'test' | 'version' | 'settings' | 'modules' | 'directives' | 'help' | 'cert';
  /** `cert selfsigned HOST [--out DIR] [--days N]`. */
  cert?: { host: string; out: string; days: number };
  foreground: boolean;
  single: boolean;
}

const kCommands: readonly KCommand[] = ['start', 'stop', 'restart', 'graceful', 'graceful-stop'];

export const usage = `Usage: mpmproxy [-D name] [-f file] [-k start|restart|graceful|graceful-stop|stop]
                [-v] [-V] [-h] [-l] [-L] [-t] [-X]
       mpmproxy cert selfsigned HOST [--out DIR] [--days N]
Options:
  -D name            define a name for use in <IfDefine name> directives
                     (-D FOREGROUND: do not detach; what systemd runs)
  -f file            specify an alternate configuration file (default: the embedded one)
  -k start|restart|graceful|graceful-stop|stop
                     start the daemon, or signal the running master found through PidFile
  -v                 show version number
  -V                 show version, MPM and the values in force
  -h                 list available command line options (this page)
  -l                 list compiled in modules
  -L                 list available configuration directives
  -t                 run syntax check for config files
  -X                 debug mode (one process, no children, in the foreground)
  cert selfsigned HOST
                     write DIR/HOST.key and a self-signed DIR/HOST.crt (DIR: --out,
                     default the current directory; valid --days, default 365)
`;

export function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = { configFile: null, defines: [], k: null, action: 'run', foreground: false, single: false };
  if (argv[0] === 'cert') return { ...a, action: 'cert', cert: certArgs(argv.slice(1)) };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`option ${flag} needs an argument`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '-f':
        a.configFile = value(i++, arg);
        break;
      case '-D': {
        const name = value(i++, arg);
        if (name === 'FOREGROUND') a.foreground = true;
        a.defines.push(name);
        break;
      }
      case '-k': {
        const k = value(i++, arg);
        if (!kCommands.includes(k as KCommand)) throw new UsageError(`-k ${k}: expected one of ${kCommands.join(', ')}`);
        a.k = k as KCommand;
        break;
      }
      case '-t':
        a.action = 'test';
        break;
      case '-v':
        a.action = 'version';
        break;
      case '-V':
        a.action = 'settings';
        break;
      case '-l':
        a.action = 'modules';
        break;
      case '-L':
        a.action = 'directives';
        break;
      case '-h':
      case '-?':
        a.action = 'help';
        break;
      case '-X':
        a.single = true;
        a.foreground = true;
        break;
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return a;
}

function certArgs(argv: string[]): NonNullable<CliArgs['cert']> {
  if (argv[0] !== 'selfsigned') throw new UsageError('cert: expected selfsigned');
  const cert = { host: '', out: '.', days: 365 };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out' || arg === '--days') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${arg} needs an argument`);
      if (arg === '--out') cert.out = v;
      else if (/^[1-9]\d{0,4}$/.test(v)) cert.days = Number(v);
      else throw new UsageError(`--days ${v}: expected a number of days`);
    } else if (cert.host === '' && !arg.startsWith('-')) {
      cert.host = arg;
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (!/^[A-Za-z0-9.:-]+$/.test(cert.host)) throw new UsageError('cert selfsigned needs a host name (mpmproxy cert selfsigned www.example.com)');
  return cert;
}
