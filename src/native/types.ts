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

/** One connection handed over: its descriptor (close-on-exec) and the bytes read from it. */
export interface ReceivedFd {
  fd: number;
  payload: Buffer;
}

/** A readability watch made by pollReadable. */
export type FdWatch = { readonly __fdWatch: unique symbol };

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
  /** socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen. Returns the fd non-blocking, with
   * FD_CLOEXEC: child_process stdio still hands it to children (their copy is made by dup2). */
  listenSocket(opts: ListenSocketOptions): number;
  /** dup(2) with FD_CLOEXEC set on the copy. */
  dup(fd: number): number;
  close(fd: number): void;
  /** listen(2) again on a listening socket: only its backlog changes. */
  setBacklog(fd: number, backlog: number): void;
  /** Up to `max` (at most 16389: a TLS record and its header) bytes received on a connected socket and still queued, without
   * taking them (recv with MSG_PEEK): empty when none has come yet. */
  peek(fd: number, max: number): Buffer;
  /** The next connection waiting on a non-blocking (listenSocket) TCP listener, accepted (non-blocking, close-on-exec,
   * TCP_NODELAY), with up to `max` (at most 16 KiB) of the bytes it has already sent, taken from
   * its queue (`payload`: empty when none has come yet, at end of stream or on an error, which
   * the socket's next read reports). Null when none waits; throws on an accept error (EMFILE…).
   * The caller owns the descriptor. */
  acceptConnection(listener: number, max: number): ReceivedFd | null;
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
  /** An AF_UNIX SOCK_SEQPACKET socket listening at `path`, non-blocking, close-on-exec. */
  handoffListen(path: string): number;
  /** A non-blocking SOCK_SEQPACKET connection to a handoffListen socket. */
  handoffConnect(path: string): number;
  /** accept4 on a handoffListen socket; null when no connection waits. */
  handoffAccept(fd: number): number | null;
  /** shutdown(SHUT_RD) of a handoff connection: its sender's next sendFd throws EPIPE, and the
   * messages already queued can still be received. */
  handoffShutdown(fd: number): void;
  /** One message carrying `fd` (SCM_RIGHTS) and `payload` (not empty) on a handoff connection.
   * False when the receiver's buffer is full; throws on any other failure (ECONNRESET or EPIPE: it is gone;
   * EMSGSIZE: the payload is too large). The caller still owns `fd` and closes it. */
  sendFd(socket: number, fd: number, payload: Buffer): boolean;
  /** One message of a handoff connection, without waiting: null when none waits, fd -1 with an
   * empty payload when the peer closed. A message that does not carry exactly one descriptor
   * is an EPROTO error (what it carried is closed). */
  recvFd(socket: number): ReceivedFd | null;
  /** Calls back on this thread's event loop whenever `fd` is readable (null), or with the
   * reason of a poll error, until pollStop. */
  pollReadable(fd: number, callback: (error: string | null) => void): FdWatch;
  pollStop(watch: FdWatch): void;
}
