// The master cycle: read the configuration, open the listeners once, create the scoreboard,
// start the children, then run the maintenance pass once a second and answer signals until
// told to stop. It never parses HTTP and never accepts a connection.
import fs from 'node:fs';
import type { Settings } from '../config/types';
import { closeLogFiles, openAccessLogs, openErrorLog } from '../log/log-files';
import { configureLogging, flushLogs, log, reopenLogs } from '../log/logger';
import { mpmFor } from '../mpm';
import { decide, newMaintenanceState } from '../mpm/maintenance';
import type { MaintenanceState } from '../mpm/maintenance';
import type { Mpm } from '../mpm/types';
import type { Scoreboard } from '../shm/scoreboard';
import { WorkerState } from '../shm/scoreboard';
import { createScoreboard, removeScoreboard, scoreboardSegmentName } from '../shm/scoreboard-segment';
import { memberKeys } from '../config/upstreams';
import type { HealthTable } from '../shm/health';
import { createHealthSegment, healthSegmentName, removeHealthSegment } from '../shm/health-segment';
import type { TlsCache } from '../shm/tls-cache';
import { createTlsCacheSegment, removeTlsCacheSegment, tlsCacheSegmentName } from '../shm/tls-cache-segment';
import { TicketKeyRotation } from '../tls/ticket-rotation';
import { CHILD_FATAL_EXIT } from '../child/messages';
import { MasterCounters } from '../limits/master-counters';
import { applyFileLimit } from '../native/rlimits';
import { ChildTable, describeExit } from './children';
import type { Child, ChildExit } from './children';
import { CrashPolicy, KILL_EXIT_GRACE_MS } from './crash-policy';
import { HandOver } from './hand-over';
import { MemoryWatch } from './memory-watch';
import { ProcessLimit } from './process-limit';
import { Listeners } from './listeners';
import { removePidFile, writePidFile } from './pidfile';
import { childIdentity } from './privileges';
import type { ChildIdentity } from './privileges';
import { monotonicUsec, notify } from './systemd';

export type LoadSettings = () => Settings;

const MAINTENANCE_INTERVAL_MS = 1000;

export class Master {
  private settings: Settings;
  private mpm: Mpm;
  private generation = 0;
  private readonly listeners = new Listeners();
  private readonly scoreboardName = scoreboardSegmentName(process.pid);
  private scoreboard!: Scoreboard;
  private limitCounters!: MasterCounters;
  private readonly healthName = healthSegmentName(process.pid);
  private health!: HealthTable;
  private readonly tlsCacheName = tlsCacheSegmentName(process.pid);
  private tlsCache!: TlsCache;
  private ticketKeys: TicketKeyRotation | null = null;
  private children!: ChildTable;
  private memory!: MemoryWatch;
  private handOver!: HandOver;
  private readonly crashPolicy: CrashPolicy;
  private readonly processLimit: ProcessLimit;
  private identity: ChildIdentity | null;
  /** The ErrorLog file, opened here for the children's stderr (null: they inherit ours). */
  private childErrorLog: number | null = null;
  /** The CustomLog files, opened here and handed to the children (src/log/log-files.ts). */
  private childAccessLogs = new Map<string, number>();
  private readonly maintenance: MaintenanceState = newMaintenanceState();
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private exitCode = 0;
  /** READY=1 is owed to systemd once the current generation's first children are up. */
  private readyOwed = true;
  private lastStatus = '';
  private restarts: Promise<void> = Promise.resolve();
  private resolveExit: ((code: number) => void) | null = null;

  constructor(
    private readonly load: LoadSettings,
    initial: Settings,
  ) {
    this.settings = initial;
    this.mpm = mpmFor(initial.mpm);
    this.identity = childIdentity(initial.user, initial.group);
    this.crashPolicy = new CrashPolicy(initial.crashRecoveryStrategy);
    this.processLimit = new ProcessLimit(initial.limitProcesses);
  }

  /** Starts serving; resolves with the exit code once the master has stopped. */
  run(): Promise<number> {
    const s = this.settings;
    applyFileLimit(s.limitFiles);
    this.listeners.update(s.listen, s.listenBacklog);
    this.scoreboard = createScoreboard(this.scoreboardName, s.serverLimit, s.threadLimit);
    this.scoreboard.masterPid = process.pid;
    this.scoreboard.startTime = this.scoreboard.restartTime = Date.now();
    this.limitCounters = new MasterCounters(s);
    this.health = createHealthSegment(this.healthName);
    this.health.assign(memberKeys(s.upstreams));
    this.tlsCache = createTlsCacheSegment(this.tlsCacheName, s.tls.sessionCacheBytes);
    this.ticketKeys = new TicketKeyRotation(this.tlsCache, s.tls.ticketKeyRotation);
    try {
      this.shareWithChildren();
      writePidFile(s.pidFile);
    } catch (err) {
      this.cleanup();
      throw err;
    }
    this.children = new ChildTable(
      this.scoreboard,
      this.scoreboardName,
      this.healthName,
      this.tlsCacheName,
      (e) => this.childExited(e),
      (c) => this.childReady(c),
    );
    this.handOver = new HandOver({
      spawn: () => this.spawn(),
      setAside: (old) => this.scoreboard.setQuiescing(old.slot, true),
      drain: (old) => this.children.graceful(old, this.settings.exitTimeout),
    });
    this.memory = new MemoryWatch(s, {
      children: () => this.children.all(),
      prune: (c) => this.children.send(c, { type: 'prune' }),
      abort: (c) => this.children.send(c, { type: 'abort' }),
      replace: (c) => this.handOver.begin(c),
    });
    for (const w of s.warnings) log('config').warn(w);
    log('master').notice(
      { mpm: s.mpm, listen: s.listen.map((l) => l.text) },
      `mpmproxy configured -- resuming normal operations`,
    );
    this.installSignals();
    this.startGeneration();
    this.maintenanceTimer = setInterval(() => this.maintain(), MAINTENANCE_INTERVAL_MS);
    return new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** Children started as User:Group must be able to map the segment and use the runtime dir. */
  private shareWithChildren(): void {
    const s = this.settings;
    this.childErrorLog = openErrorLog(s);
    this.childAccessLogs = openAccessLogs(s);
    fs.mkdirSync(s.runtimeDir, { recursive: true, mode: 0o755 });
    if (!this.identity) return;
    fs.chownSync(`/dev/shm${this.scoreboardName}`, this.identity.uid, this.identity.gid);
    this.limitCounters.shareWith(this.identity.uid, this.identity.gid);
    fs.chownSync(`/dev/shm${this.healthName}`, this.identity.uid, this.identity.gid);
    fs.chownSync(`/dev/shm${this.tlsCacheName}`, this.identity.uid, this.identity.gid);
    fs.chownSync(s.runtimeDir, this.identity.uid, this.identity.gid);
  }

  private installSignals(): void {
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    process.on('SIGHUP', () => this.queueRestart(false));
    process.on('SIGUSR1', () => this.queueRestart(true));
    process.on('SIGWINCH', () => this.gracefulStop());
  }

  private startGeneration(): void {
    const s = this.settings;
    this.readyOwed = true;
    for (let i = 0; i < s.startServers; i++) {
      if (!this.spawn()) break;
    }
  }

  private spawn(): Child | null {
    if (!this.processLimit.allows(this.children.size, Date.now())) return null;
    const child = this.children.spawn(
      this.settings,
      this.generation,
      this.mpm.slotsPerChild(this.settings),
      this.listeners.list(),
      this.identity,
      this.childErrorLog,
      this.childAccessLogs,
    );
    if (child) log('master').debug({ child: child.pid, slot: child.slot, generation: this.generation }, 'child started');
    return child;
  }

  private current(): Child[] {
    return this.children.all().filter((c) => c.generation === this.generation && c.state === 'serving');
  }

  private childReady(child: Child): void {
    this.handOver.ready(child);
    if (!this.readyOwed || child.generation !== this.generation) return;
    if (this.current().every((c) => c.ready)) {
      this.readyOwed = false;
      notify(`READY=1\nSTATUS=${this.statusLine()}\nMAINPID=${process.pid}`);
    }
  }

  private childExited(e: ChildExit): void {
    const { child } = e;
    this.memory.forget(child);
    const owed = this.handOver.exited(child);
    this.limitCounters.childExited(child.slot);
    const how = describeExit(e.code, e.signal);
    if (!e.expected) {
      log('master').error({ child: child.pid, code: e.code, signal: e.signal }, `child pid ${child.pid} ${how}`);
    } else {
      log('master').info({ child: child.pid, code: e.code, signal: e.signal }, `child pid ${child.pid} exited (${how})`);
    }
    if (e.code === CHILD_FATAL_EXIT && !child.ready && !this.stopping) {
      log('master').emerg({ child: child.pid }, `child pid ${child.pid} could not start; mpmproxy is exiting`);
      this.stop('a fatal child start-up error', 1);
      return;
    }
    if (this.stopping) {
      if (this.children.size === 0) this.finish(this.exitCode);
      return;
    }
    // A child of the current generation that spent its MaxConnectionsPerChild, or was replaced
    // without a replacement started first, is replaced at once, one for one; a crashed one as
    // CrashRecoveryStrategy says; the maintenance pass handles every other change.
    if (!e.expected) this.recover(child);
    else if (owed || (child.generation === this.generation && child.state === 'serving')) this.spawn();
    if (this.readyOwed) this.childReady(child);
  }

  /** CrashRecoveryStrategy: replace a crashed child (later, in a crash loop), or stop the server. */
  private recover(child: Child): void {
    const d = this.crashPolicy.crashed(child.pid, Date.now());
    if (d.action === 'exit') {
      this.stop(`the crash of child pid ${child.pid} (CrashRecoveryStrategy kill)`, 1, KILL_EXIT_GRACE_MS);
      return;
    }
    if (child.generation !== this.generation) return;
    if (d.delayMs === 0) this.spawn();
    else this.crashPolicy.later(d.delayMs, () => this.spawn());
  }

  /** Once a second: keep the idle workers between the spare limits (httpd's idle maintenance). */
  private maintain(): void {
    if (this.stopping) return;
    const s = this.settings;
    const limits = this.mpm.spareLimits(s);
    const slots = this.mpm.slotsPerChild(s);
    const active = this.current().filter((c) => !this.scoreboard.isQuiescing(c.slot));
    let idle = 0;
    let starting = 0;
    for (const c of active) {
      for (let t = 0; t < slots; t++) {
        const st = this.scoreboard.workerState(c.slot, t);
        if (st === WorkerState.READY || st === WorkerState.STARTING) idle++;
        if (st === WorkerState.STARTING) starting++;
      }
    }
    const maxChildren = this.mpm.maxChildren(s);
    const d = decide(
      {
        idle,
        starting,
        active: active.length,
        maxChildren,
        freeSlots: s.serverLimit - this.children.size,
        min: limits.min,
        max: limits.max,
      },
      this.maintenance,
    );
    const spare = limits.unit === 'children' ? 'MinSpareServers' : 'MinSpareThreads';
    switch (d.action) {
      case 'retire': {
        const victim = active.reduce((a, b) => (this.scoreboard.connections(b.slot) < this.scoreboard.connections(a.slot) ? b : a));
        log('mpm').info(
          { child: victim.pid, idle, max: limits.max },
          `${idle} idle ${limits.unit} > ${limits.unit === 'children' ? 'MaxSpareServers' : 'MaxSpareThreads'} ${limits.max}: retiring child pid ${victim.pid} gracefully`,
        );
        this.children.graceful(victim, s.exitTimeout);
        break;
      }
      case 'spawn': {
        // A crash loop's back-off holds every start.
        if (this.crashPolicy.holding(Date.now())) break;
        const msg =
          d.rate >= 8
            ? `server seems busy, (you may need to increase StartServers, ThreadsPerChild or ${spare}/Max), spawning ${d.count} children, there are around ${idle} idle ${limits.unit}, and ${active.length} active children`
            : `${idle} idle ${limits.unit} < ${spare} ${limits.min}: spawning ${d.count} children`;
        log('mpm').info({ spawn: d.count, rate: d.rate, idle, active: active.length }, msg);
        for (let i = 0; i < d.count; i++) this.spawn();
        break;
      }
      case 'at-max-workers':
        if (d.firstTime) {
          log('mpm').error(
            { maxRequestWorkers: s.maxRequestWorkers, children: active.length },
            'server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting',
          );
        }
        break;
      case 'scoreboard-full':
        log('mpm').warn({ serverLimit: s.serverLimit }, 'scoreboard is full, not at MaxRequestWorkers; raise ServerLimit');
        break;
      case 'none':
        break;
    }
    const status = this.statusLine();
    if (status !== this.lastStatus) {
      this.lastStatus = status;
      notify(`STATUS=${status}`);
    }
  }

  private statusLine(): string {
    let busy = 0;
    let idle = 0;
    const slots = this.mpm.slotsPerChild(this.settings);
    for (const c of this.children.all()) {
      for (let t = 0; t < slots; t++) {
        const st = this.scoreboard.workerState(c.slot, t);
        if (st === WorkerState.READY) idle++;
        else if (st !== WorkerState.DEAD && st !== WorkerState.STARTING) busy++;
      }
    }
    return `Processes: ${this.children.size}; busy workers: ${busy}; idle workers: ${idle}; generation: ${this.generation}`;
  }

  private queueRestart(graceful: boolean): void {
    this.restarts = this.restarts.then(() => this.restart(graceful));
  }

  /** HUP (graceful = false) replaces the children now; USR1 lets the old ones finish first. */
  private async restart(graceful: boolean): Promise<void> {
    if (this.stopping) return;
    const signal = graceful ? 'SIGUSR1' : 'SIGHUP';
    notify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
    let next: Settings;
    let errorLog: number | null = null;
    let accessLogs = new Map<string, number>();
    try {
      next = this.keepFixedLimits(this.load());
      errorLog = openErrorLog(next);
      accessLogs = openAccessLogs(next);
      this.listeners.update(next.listen, next.listenBacklog);
    } catch (err) {
      if (errorLog !== null) fs.closeSync(errorLog);
      closeLogFiles(accessLogs);
      log('master').error(
        { signal, err: (err as Error).message },
        `${signal} received, but the new configuration is bad; keeping the running one`,
      );
      notify(`READY=1\nSTATUS=${this.statusLine()}`);
      return;
    }
    this.settings = next;
    applyFileLimit(next.limitFiles);
    this.memory.update(next);
    this.processLimit.update(next.limitProcesses);
    this.ticketKeys?.update(next.tls.ticketKeyRotation);
    this.crashPolicy.reset(next.crashRecoveryStrategy);
    // Before the new generation starts: its children look their members up in the table.
    this.health.assign(memberKeys(next.upstreams));
    this.mpm = mpmFor(next.mpm);
    this.identity = childIdentity(next.user, next.group);
    configureLogging(next);
    reopenLogs();
    // Children already started keep their own copy of the old descriptor.
    if (this.childErrorLog !== null) fs.closeSync(this.childErrorLog);
    this.childErrorLog = errorLog;
    closeLogFiles(this.childAccessLogs);
    this.childAccessLogs = accessLogs;
    for (const w of next.warnings) log('config').warn(w);
    const old = this.children.all().filter((c) => c.generation === this.generation);
    this.generation++;
    this.scoreboard.generation = this.generation;
    this.scoreboard.restartTime = Date.now();
    Object.assign(this.maintenance, newMaintenanceState());
    log('master').notice(
      { generation: this.generation, signal },
      graceful ? 'Graceful restart requested, doing restart' : 'SIGHUP received.  Attempting to restart',
    );
    for (const c of old) {
      if (graceful) this.children.graceful(c, next.exitTimeout);
      else this.children.terminate(c);
    }
    this.startGeneration();
  }

  /** ServerLimit and ThreadLimit size the scoreboard, which lives across restarts (as in httpd). */
  private keepFixedLimits(next: Settings): Settings {
    const s = this.settings;
    for (const [name, key] of [
      ['ServerLimit', 'serverLimit'],
      ['ThreadLimit', 'threadLimit'],
    ] as const) {
      if (next[key] !== s[key]) {
        next.warnings.push(`changing ${name} to ${next[key]} needs a full stop and start; keeping ${s[key]}`);
        next[key] = s[key];
      }
    }
    // The session cache segment keeps its size too, and with it every cached session.
    if (next.tls.sessionCacheBytes !== s.tls.sessionCacheBytes) {
      next.warnings.push(`changing SSLSessionCache needs a full stop and start; keeping ${s.tls.sessionCacheBytes === 0 ? 'none' : `shm:${s.tls.sessionCacheBytes}`}`);
      next.tls.sessionCacheBytes = s.tls.sessionCacheBytes;
    }
    next.threadsPerChild = Math.min(next.threadsPerChild, next.threadLimit);
    return next;
  }

  /** TERM/INT: stop now; children get a short grace, then are killed. */
  private stop(reason: string, exitCode = 0, killGraceMs?: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.exitCode = exitCode;
    log('master').notice({ reason }, `caught ${reason}, shutting down`);
    notify('STOPPING=1');
    for (const c of this.children.all()) this.children.terminate(c, killGraceMs);
    if (this.children.size === 0) this.finish(exitCode);
  }

  /** WINCH: stop accepting, let every child drain up to ExitTimeout (Settings.exitTimeout), then exit. */
  private gracefulStop(): void {
    if (this.stopping) return;
    this.stopping = true;
    log('master').notice('caught SIGWINCH, shutting down gracefully');
    notify('STOPPING=1');
    this.listeners.closeAll();
    for (const c of this.children.all()) this.children.graceful(c, this.settings.exitTimeout);
    if (this.children.size === 0) this.finish(0);
  }

  private finish(code: number): void {
    this.cleanup();
    log('master').notice('mpmproxy stopped');
    flushLogs();
    this.resolveExit?.(code);
  }

  private cleanup(): void {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.memory?.stop();
    this.crashPolicy.reset(this.settings.crashRecoveryStrategy);
    if (this.childErrorLog !== null) fs.closeSync(this.childErrorLog);
    this.childErrorLog = null;
    closeLogFiles(this.childAccessLogs);
    this.childAccessLogs.clear();
    this.listeners.closeAll();
    removeScoreboard(this.scoreboardName);
    this.limitCounters?.remove();
    removeHealthSegment(this.healthName);
    this.ticketKeys?.stop();
    removeTlsCacheSegment(this.tlsCacheName);
    removePidFile(this.settings.pidFile);
  }
}
