// The `mpmproxy` command.
import os from 'node:os';
import { loadConfig, resolveSettings } from '../config';
import { embeddedConfig } from '../config/embedded';
import { builtinModules } from '../config/modules';
import type { Settings } from '../config/types';
import { ConfigErrors, MpmproxyError, PidFileError, UsageError } from '../errors';
import { configureLogging, flushLogs } from '../log/logger';
import { Master } from '../master/master';
import { runningMaster } from '../master/pidfile';
import { runSingleProcess } from '../master/single';
import { version } from '../version';
import { parseArgs, usage } from './args';
import type { CliArgs } from './args';
import { signalMaster } from './control';
import { daemonize } from './daemon';
import { listDirectives } from './list-directives';
import { settingsReport } from './settings-report';
import { writeSelfSigned } from '../tls/selfsigned';

function loader(a: CliArgs): () => Settings {
  return () => {
    const parsed = a.configFile
      ? loadConfig({ file: a.configFile, defines: a.defines })
      : loadConfig({ text: embeddedConfig, defines: a.defines });
    return resolveSettings(parsed, { cpus: os.availableParallelism(), uid: process.getuid?.() ?? 0 });
  };
}

/** `-k start` finds what it asked for, as apachectl does; any other start was refused. Checked
 * before detaching, so the operator reads why at once rather than in the ErrorLog. */
function alreadyRunning(a: CliArgs, pid: number, pidFile: string): number {
  if (a.k === 'start') {
    process.stderr.write(`mpmproxy (pid ${pid}) already running\n`);
    return 0;
  }
  throw new PidFileError(`mpmproxy (pid ${pid}) already running (PidFile ${pidFile})`);
}

async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  switch (a.action) {
    case 'help':
      process.stdout.write(usage);
      return 0;
    case 'version':
      process.stdout.write(`Server version: mpmproxy/${version} (Linux)\n`);
      return 0;
    case 'modules':
      process.stdout.write(`Compiled in modules:\n${builtinModules.map((m) => `  ${m}\n`).join('')}`);
      return 0;
    case 'directives':
      process.stdout.write(listDirectives());
      return 0;
    case 'cert': {
      const c = a.cert as NonNullable<CliArgs['cert']>;
      const written = writeSelfSigned(c.host, c.out, c.days);
      process.stdout.write(`wrote ${written.keyFile} and ${written.certFile}\n`);
      return 0;
    }
    default:
      break;
  }
  const load = loader(a);
  const settings = load();
  if (a.action === 'test') {
    for (const w of settings.warnings) process.stderr.write(`${w}\n`);
    process.stderr.write('Syntax OK\n');
    return 0;
  }
  if (a.action === 'settings') {
    process.stdout.write(settingsReport(settings));
    return 0;
  }
  if (a.k && a.k !== 'start') return signalMaster(a.k, settings.pidFile);
  const running = runningMaster(settings.pidFile);
  if (running !== null) return alreadyRunning(a, running, settings.pidFile);
  if (!a.foreground) {
    return daemonize(argv.filter((x, i) => !(x === '-k' || argv[i - 1] === '-k')), settings.pidFile, settings.errorLog);
  }
  configureLogging(settings);
  if (a.single) return runSingleProcess(settings);
  return new Master(load, settings).run();
}

export function main(argv: string[]): void {
  run(argv).then(
    (code) => {
      flushLogs();
      process.exit(code);
    },
    (err: unknown) => {
      if (err instanceof ConfigErrors) {
        process.stderr.write(`${err.message}\n`);
      } else if (err instanceof UsageError) {
        process.stderr.write(`mpmproxy: ${err.message}\n${usage}`);
      } else if (err instanceof MpmproxyError) {
        process.stderr.write(`mpmproxy: ${err.message}\n`);
      } else {
        process.stderr.write(`mpmproxy: ${(err as Error)?.stack ?? String(err)}\n`);
      }
      flushLogs();
      process.exit(1);
    },
  );
}
