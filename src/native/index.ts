// Loads the C addon (native/) on first use, not on import, so that code which needs none of
// it still runs where it was not built. Every error the addon throws reaches callers as a
// NativeAddonError carrying the errno name.
import fs from 'node:fs';
import path from 'node:path';
import { NativeAddonError } from '../errors';
import type { NativeAddon } from './types';

export type { FdWatch, ListenSocketOptions, NativeAddon, ReceivedFd, RlimitResource } from './types';

/** This file runs as dist/src/native/index.js; the package root is three levels up. */
const packageRoot = path.resolve(__dirname, '..', '..', '..');

export const nativeAddonPath = path.join(
  packageRoot,
  'native',
  'build',
  'Release',
  'mpmproxy_native.node',
);

const buildHint = 'run `npm run build:native` (needs python3, make, a C compiler)';

/** Every function of the contract; the type makes the compiler reject a missing name. */
const functionNames: Record<keyof NativeAddon, true> = {
  shmOpen: true,
  shmUnlink: true,
  getrlimit: true,
  setrlimit: true,
  sdNotify: true,
  listenSocket: true,
  dup: true,
  close: true,
  setBacklog: true,
  localPort: true,
  peek: true,
  acceptConnection: true,
  setParentDeathSignal: true,
  dgramBind: true,
  dgramRecv: true,
  handoffListen: true,
  handoffConnect: true,
  handoffAccept: true,
  handoffShutdown: true,
  sendFd: true,
  recvFd: true,
  pollReadable: true,
  pollStop: true,
};

function requireAddon(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    throw new NativeAddonError(`native addon ${file} is missing: ${buildHint}`);
  }
  try {
    return require(file) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new NativeAddonError(`native addon ${file} failed to load (${reason}): ${buildHint}`, {
      cause: err,
    });
  }
}

function toNativeAddonError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const errno = (err as NodeJS.ErrnoException).code;
  return new NativeAddonError(err.message, { cause: err, errno });
}

function wrapFunction(fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      throw toNativeAddonError(err);
    }
  };
}

/** Loads the addon at `file`; exported so the missing-file message can be tested. */
export function loadNativeFrom(file: string): NativeAddon {
  const addon = requireAddon(file);
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.keys(functionNames)) {
    const fn = addon[name];
    // A build older than the sources lacks the newer functions.
    if (typeof fn !== 'function') {
      throw new NativeAddonError(`native addon ${file} has no function ${name}: ${buildHint}`);
    }
    wrapped[name] = wrapFunction(fn as (...args: unknown[]) => unknown);
  }
  return wrapped as unknown as NativeAddon;
}

let loaded: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  loaded ??= loadNativeFrom(nativeAddonPath);
  return loaded;
}

/** The addon, loaded by the first call through it. */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get: (_target, name) => loadNative()[name as keyof NativeAddon],
});
