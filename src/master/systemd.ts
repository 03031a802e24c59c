// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET per state change.
import { log } from '../log/logger';
import { loadNative } from '../native';

const socket = process.env.NOTIFY_SOCKET;

export function notify(message: string): void {
  if (!socket) return;
  try {
    loadNative().sdNotify(socket, message);
  } catch (err) {
    log('master').warn({ err: (err as Error).message }, 'sd_notify failed');
  }
}

/** CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants it (uv_hrtime reads that clock). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}
