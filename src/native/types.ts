// The contract of the C addon in native/. Every function throws NativeAddonError-wrapped
// errno text on failure (see src/native/index.ts).

export type RlimitResource = 'nofile' | 'core' | 'nproc' | 'as' | 'stack';

export interface ListenSocketOptions {
  /** IPv4 or IPv6 literal; '0.0.0.0' or '::' for any. */
  host: string;
  port: number;
  backlog: number;
  reusePort?: boolean;
}

export interface NativeAddon {
  /** shm_open + ftruncate (when creating) + mmap(MAP_SHARED); the fd is closed after mapping.
   * create=true fails if the segment exists (O_EXCL). The memory is unmapped when the
   * ArrayBuffer is garbage-collected. New segments are zero-filled. */
  shmOpen(name: string, size: number, create: boolean): ArrayBuffer;
  /** shm_unlink; a missing segment is not an error. */
  shmUnlink(name: string): void;
  /** Values are numbers; Infinity means RLIM_INFINITY. */
  getrlimit(resource: RlimitResource): { soft: number; hard: number };
  setrlimit(resource: RlimitResource, soft: number, hard: number): void;
  /** One datagram to $NOTIFY_SOCKET-style address (a path, or '@name' for the abstract namespace). */
  sdNotify(address: string, message: string): void;
  /** socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen. Returns the fd with FD_CLOEXEC:
   * child_process stdio still hands it to children (their copy is made by dup2). */
  listenSocket(opts: ListenSocketOptions): number;
  /** dup(2) with FD_CLOEXEC set on the copy. */
  dup(fd: number): number;
  close(fd: number): void;
  /** Up to `max` (at most 64) bytes received on a connected socket and still queued, without
   * taking them (recv with MSG_PEEK): empty when none has come yet. */
  peek(fd: number, max: number): Buffer;
  /** The local port a socket is bound to (useful for port 0). */
  localPort(fd: number): number;
  /** prctl(PR_SET_PDEATHSIG, signal): the calling process gets `signal` when its parent dies. */
  setParentDeathSignal(signal: number): void;
  /** A bound AF_UNIX datagram socket (path, or '@name' for the abstract namespace), close-on-exec.
   * Node has no Unix datagram sockets; the tests and their systemd-notify receiver use this
   * and dgramRecv to stand in for systemd. */
  dgramBind(address: string): number;
  /** Waits up to timeoutMs (-1: forever) for one datagram on a dgramBind socket; null on timeout.
   * Blocks the calling thread while it waits. Datagrams over 4096 bytes are an EMSGSIZE error. */
  dgramRecv(fd: number, timeoutMs: number): string | null;
}
