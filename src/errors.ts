// Every error mpmproxy raises on purpose is one of these classes, each with a stable
// `code` that operators can search for in docs/errors.md (a test keeps the two in step).

export class MpmproxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One configuration problem, located at file:line and naming the directive. */
export class ConfigError extends MpmproxyError {
  readonly file: string;
  readonly line: number;
  readonly directive: string;
  constructor(file: string, line: number, directive: string, message: string) {
    super('MPM_ERR_CONFIG', `${file}:${line}: ${directive}: ${message}`);
    this.file = file;
    this.line = line;
    this.directive = directive;
  }
}

/** Several configuration problems found in one pass; the message lists each on its own line. */
export class ConfigErrors extends MpmproxyError {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    super('MPM_ERR_CONFIG_INVALID', errors.map((e) => e.message).join('\n'));
    this.errors = errors;
  }
}

export class NativeAddonError extends MpmproxyError {
  /** The errno name ('EADDRINUSE', 'EACCES', ...) when a system call failed. */
  readonly errno?: string;
  constructor(message: string, options?: { cause?: unknown; errno?: string }) {
    super('MPM_ERR_NATIVE_ADDON', message, options);
    if (options?.errno !== undefined) this.errno = options.errno;
  }
}

export class SharedMemoryError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_SHM', message, options);
  }
}

export class ListenError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_LISTEN', message, options);
  }
}

export class PidFileError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_PIDFILE', message, options);
  }
}

export class PrivilegeError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_PRIVILEGES', message, options);
  }
}

/** An ErrorLog or CustomLog file the master cannot open. */
export class LogFileError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_LOG_FILE', message, options);
  }
}

/** TLS that cannot be served as configured (a host without certificate asked for), or a
 * certificate that `mpmproxy cert` cannot write. */
export class TlsError extends MpmproxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MPM_ERR_TLS', message, options);
  }
}

export class UsageError extends MpmproxyError {
  constructor(message: string) {
    super('MPM_ERR_USAGE', message);
  }
}

/** Every class above, for the test that checks each code is documented. */
export const errorCodes: readonly string[] = [
  'MPM_ERR_CONFIG',
  'MPM_ERR_CONFIG_INVALID',
  'MPM_ERR_NATIVE_ADDON',
  'MPM_ERR_SHM',
  'MPM_ERR_LISTEN',
  'MPM_ERR_PIDFILE',
  'MPM_ERR_PRIVILEGES',
  'MPM_ERR_LOG_FILE',
  'MPM_ERR_TLS',
  'MPM_ERR_USAGE',
];
