// -X: one process, no children: the master serves itself through its MPM, for debugging.
import type { Settings } from '../config/types';
import { flushLogs, log } from '../log/logger';
import { MasterCounters } from '../limits/master-counters';
import { mpmFor } from '../mpm';
import { memberKeys } from '../config/upstreams';
import { createHealthSegment, healthSegmentName, removeHealthSegment, useHealthSegment } from '../shm/health-segment';
import { createScoreboard, removeScoreboard, scoreboardSegmentName } from '../shm/scoreboard-segment';
import { applyFileLimit } from '../native/rlimits';
import { createTlsCacheSegment, removeTlsCacheSegment, tlsCacheSegmentName, useTlsCacheSegment } from '../shm/tls-cache-segment';
import { TicketKeyRotation } from '../tls/ticket-rotation';
import { Listeners } from './listeners';
import { removePidFile, writePidFile } from './pidfile';

export async function runSingleProcess(s: Settings): Promise<number> {
  applyFileLimit(s.limitFiles);
  const listeners = new Listeners();
  listeners.update(s.listen, s.listenBacklog);
  const name = scoreboardSegmentName(process.pid);
  const scoreboard = createScoreboard(name, s.serverLimit, s.threadLimit);
  scoreboard.masterPid = process.pid;
  scoreboard.startTime = scoreboard.restartTime = Date.now();
  const limitCounters = new MasterCounters(s);
  const healthName = healthSegmentName(process.pid);
  createHealthSegment(healthName).assign(memberKeys(s.upstreams));
  useHealthSegment(healthName);
  const tlsCacheName = tlsCacheSegmentName(process.pid);
  const ticketKeys = new TicketKeyRotation(createTlsCacheSegment(tlsCacheName, s.tls.sessionCacheBytes), s.tls.ticketKeyRotation);
  useTlsCacheSegment(tlsCacheName);
  const mpm = mpmFor(s.mpm);
  scoreboard.claimProcess(0, process.pid, 0, mpm.slotsPerChild(s));
  writePidFile(s.pidFile);
  return new Promise((resolve) => {
    const finish = () => {
      listeners.closeAll();
      removeScoreboard(name);
      limitCounters.remove();
      removeHealthSegment(healthName);
      ticketKeys.stop();
      removeTlsCacheSegment(tlsCacheName);
      removePidFile(s.pidFile);
      log('master').notice('mpmproxy stopped');
      flushLogs();
      resolve(0);
    };
    void mpm
      .runChild({
        settings: s,
        processSlot: 0,
        generation: 0,
        listeners: listeners.list(),
        scoreboard,
        scoreboardName: name,
        onRetired: finish,
      })
      .then((runner) => {
        log('master').notice({ mpm: s.mpm, pid: process.pid }, 'running in one process (-X)');
        const stop = () => void runner.stop().then(finish);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
  });
}
