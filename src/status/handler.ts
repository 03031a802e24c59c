// `SetHandler server-status`: the scoreboard as HTML, or as mod_status's `?auto` text.
import type http from 'node:http';
import os from 'node:os';
import type { Settings } from '../config/types';
import { mpmFor } from '../mpm';
import type { Scoreboard } from '../shm/scoreboard';
import { serverVersion } from '../version';
import { renderStatusAuto, renderStatusHtml } from './server-status';
import type { StatusInfo } from './server-status';

/** What other parts add to the page: lines of their counters, and a say on a page's size. */
export interface StatusExtras {
  /** `Key: value` lines (StatusInfo.extra). */
  lines(): string[];
  /** Called with the page built whole in memory; true when it answered instead. */
  refuseBufferedBody(res: http.ServerResponse, bytes: number): boolean;
}

export function createStatusHandler(settings: Settings, scoreboard: Scoreboard, extras?: StatusExtras) {
  const mpm = mpmFor(settings.mpm);
  const hostname = os.hostname();
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const info: StatusInfo = {
      version: serverVersion,
      mpm: settings.mpm,
      threaded: mpm.threaded,
      forked: true,
      serverLimit: scoreboard.serverLimit,
      threadLimit: scoreboard.threadLimit,
      threadsPerChild: mpm.slotsPerChild(settings),
      maxRequestWorkers: settings.maxRequestWorkers,
      generation: scoreboard.generation,
      startTime: scoreboard.startTime,
      restartTime: scoreboard.restartTime,
      now: Date.now(),
      hostname,
      extra: extras?.lines(),
    };
    const auto = /[?&]auto(&|=|$)/.test(req.url ?? '');
    const body = auto ? renderStatusAuto(scoreboard, info) : renderStatusHtml(scoreboard, info);
    if (extras?.refuseBufferedBody(res, Buffer.byteLength(body))) return;
    res.writeHead(200, {
      'content-type': auto ? 'text/plain; charset=utf-8' : 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
