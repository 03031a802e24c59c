// Resolves the SSL* directives into what the master and the children need: for the main server
// and each virtual host, its certificates and handshake settings (a virtual host takes the
// server's value of every SSL* directive it does not write, as mod_ssl merges them); which
// listeners speak TLS; the session cache and ticket key settings. Every file is read here, by
// the master, before children drop privileges (as httpd reads them as root): the children get
// the PEM text in their start message and never open a key file.
import fs from 'node:fs';
import { ConfigError, ConfigErrors } from '../errors';
import { directives, lastValue, usesOf, type DirectiveSpec } from '../config/directives';
import type { ClientCertHeaders, VerifyClient } from '../config/directives/tls';
import type { DirectiveUse, ListenSpec, Section } from '../config/types';
import { checkCertificate, type CertSource } from './cert-check';
import { isCertificate, isPrivateKey, joinPem, pemBlocks } from './pem';
import { cipherString, defaultProtocols, type CipherSuiteValue, type ProtocolRange } from './protocols';

export interface TlsCertificate {
  /** The certificate and the intermediates sent after it (the file's own, then SSLCertificateChainFile's). */
  cert: string;
  key: string;
}

/** The TLS side of the main server or of one virtual host. */
export interface TlsHost {
  /** For log lines: 'the main server' or '<VirtualHost *:443> at file:line'. */
  label: string;
  certificates: TlsCertificate[];
  /** SSLCACertificateFile's certificates: the CAs client certificates must chain to. */
  ca: string | null;
  verifyClient: VerifyClient;
  verifyDepth: number;
  protocols: ProtocolRange;
  ciphers: string;
  honorCipherOrder: boolean;
}

export interface TlsSettings {
  /** By host index: 0 the main server, i + 1 settings.virtualHosts[i]; null where no certificate is configured. */
  hosts: Array<TlsHost | null>;
  /** SSLSessionCache in bytes; 0 = none. */
  sessionCacheBytes: number;
  /** SSLSessionCacheTimeout, milliseconds. */
  sessionTimeout: number;
  sessionTickets: boolean;
  /** SSLSessionTicketKeyRotation, milliseconds. */
  ticketKeyRotation: number;
}

export interface ResolvedTls {
  tls: TlsSettings;
  /** The Listen specs, with `protocol` https where an SSLEngine on covers the address. */
  listen: ListenSpec[];
  /** SSLClientCertHeaders of the main server, then of each virtual host. */
  clientCertHeaders: ClientCertHeaders[];
}

type Use<V> = DirectiveUse & { value: V };

/** The server's uses of a directive, replaced by the virtual host's when it writes any. */
function merged<V>(root: Section, host: Section | null, spec: DirectiveSpec<V>): Array<Use<V>> {
  const own = host ? usesOf(host, spec) : [];
  return own.length > 0 ? own : usesOf(root, spec);
}

const source = (use: DirectiveUse & { value: string }): CertSource => ({ file: use.file, line: use.line, directive: use.name, path: use.value });

export function resolveTls(root: Section, listen: ListenSpec[], fromRoot: (p: string) => string, warnings: string[]): ResolvedTls {
  const errors: ConfigError[] = [];
  const located = (use: DirectiveUse, message: string): string => `${use.file}:${use.line}: ${use.name}: ${message}`;
  const files = new Map<string, string | null>();
  const read = (use: Use<string>): string | null => {
    const path = fromRoot(use.value);
    if (!files.has(path)) {
      try {
        files.set(path, fs.readFileSync(path, 'utf8'));
      } catch (err) {
        errors.push(new ConfigError(use.file, use.line, use.name, `cannot read ${use.value}: ${(err as Error).message}`));
        files.set(path, null);
      }
    }
    return files.get(path) ?? null;
  };
  const hostSections = root.sections.filter((s) => s.context === 'virtualhost');
  const engineOn: boolean[] = [];

  const resolveHost = (host: Section | null): TlsHost | null => {
    const last = <V>(spec: DirectiveSpec<V>): Use<V> | undefined => merged(root, host, spec).at(-1);
    const label = host ? `<VirtualHost ${host.arg}> at ${host.file}:${host.line}` : 'the main server';
    const engine = last(directives.SSLEngine);
    engineOn.push(engine?.value === true);
    const certUses = merged(root, host, directives.SSLCertificateFile);
    const keyUses = merged(root, host, directives.SSLCertificateKeyFile);
    if (certUses.length === 0) {
      if (engine?.value === true) {
        errors.push(new ConfigError(engine.file, engine.line, engine.name, `${label} has no certificate: write SSLCertificateFile and SSLCertificateKeyFile`));
      }
      return null;
    }
    const chainUse = last(directives.SSLCertificateChainFile);
    const caUse = last(directives.SSLCACertificateFile);
    const chain = chainUse ? read(chainUse) : null;
    const caText = caUse ? read(caUse) : null;
    const ca = caText === null ? null : joinPem(pemBlocks(caText).filter(isCertificate));
    if (caUse && caText !== null && ca === null) errors.push(new ConfigError(caUse.file, caUse.line, caUse.name, `${caUse.value} holds no PEM certificate`));
    const certificates: TlsCertificate[] = [];
    certUses.forEach((certUse, i) => {
      const certText = read(certUse);
      const keyUse = keyUses[i];
      const keyText = keyUse ? read(keyUse) : certText;
      if (certText === null || keyText === null) return;
      const key = joinPem(pemBlocks(keyText).filter(isPrivateKey));
      if (key === null) {
        const at = keyUse ?? certUse;
        errors.push(new ConfigError(at.file, at.line, at.name, `${at.value} holds no PEM private key${keyUse ? '' : ' (and no SSLCertificateKeyFile names one)'}`));
        return;
      }
      const certs = joinPem(pemBlocks(certText).filter(isCertificate)) ?? '';
      for (const f of checkCertificate({
        certs,
        cert: source(certUse),
        key,
        keySource: source(keyUse ?? certUse),
        chain: chain === null ? null : joinPem(pemBlocks(chain).filter(isCertificate)),
        chainSource: chainUse ? source(chainUse) : null,
        ca,
        caSource: caUse ? source(caUse) : null,
      })) {
        if (f.level === 'error') errors.push(new ConfigError(f.at.file, f.at.line, f.at.directive, f.message));
        else warnings.push(`${f.at.file}:${f.at.line}: ${f.at.directive}: ${f.message}`);
      }
      certificates.push({ cert: `${certs}${chain === null ? '' : joinPem(pemBlocks(chain).filter(isCertificate)) ?? ''}`, key });
    });
    const verify = last(directives.SSLVerifyClient);
    const verifyClient = verify?.value ?? 'none';
    if (verify && (verifyClient === 'optional' || verifyClient === 'require') && ca === null) {
      errors.push(new ConfigError(verify.file, verify.line, verify.name, `${verifyClient} needs SSLCACertificateFile: the CAs client certificates must chain to`));
    }
    if (verify && verifyClient === 'optional_no_ca') {
      warnings.push(
        located(
          verify,
          'optional_no_ca accepts any client certificate without checking who issued it, so a forged or self-made one passes: ' +
            'it disables certificate authentication. Use optional (or require) with SSLCACertificateFile',
        ),
      );
    }
    const suites = merged(root, host, directives.SSLCipherSuite).map((u) => u.value);
    const suite = (p: CipherSuiteValue['protocol']): string | null => suites.filter((s) => s.protocol === p).at(-1)?.spec ?? null;
    return {
      label,
      certificates,
      ca,
      verifyClient,
      verifyDepth: last(directives.SSLVerifyDepth)?.value ?? 1,
      protocols: last(directives.SSLProtocol)?.value ?? defaultProtocols,
      ciphers: cipherString(suite('SSL'), suite('TLSv1.3')),
      honorCipherOrder: last(directives.SSLHonorCipherOrder)?.value ?? false,
    };
  };

  const hosts = [resolveHost(null), ...hostSections.map(resolveHost)];
  const clientCertHeaders = [null, ...hostSections].map((h) => merged(root, h, directives.SSLClientCertHeaders).at(-1)?.value ?? {});
  const resolvedListen = listen.map((spec) => (spec.protocol === 'https' || engineCovers(spec, engineOn, hostSections) ? { ...spec, protocol: 'https' as const } : spec));
  for (const [i, spec] of resolvedListen.entries()) {
    if (spec.protocol !== 'https' || servesCertificate(spec, hosts, hostSections)) continue;
    const use = usesOf(root, directives.Listen)[i];
    errors.push(
      new ConfigError(use.file, use.line, use.name, `${spec.text} serves TLS but no certificate covers it: write SSLCertificateFile in the server config or in a <VirtualHost> on this address`),
    );
  }
  if (errors.length > 0) throw new ConfigErrors(errors);
  const value = <V>(spec: DirectiveSpec<V>): V | undefined => lastValue(root, spec);
  return {
    tls: {
      hosts,
      sessionCacheBytes: value(directives.SSLSessionCache) ?? 0,
      sessionTimeout: value(directives.SSLSessionCacheTimeout) ?? 300_000,
      sessionTickets: value(directives.SSLSessionTickets) ?? true,
      ticketKeyRotation: value(directives.SSLSessionTicketKeyRotation) ?? 12 * 3_600_000,
    },
    listen: resolvedListen,
    clientCertHeaders,
  };
}

/** `*`, `_default_` or an address; a port, `*` or none. */
function addressPort(text: string): number | null {
  const m = /:(\d+)$/.exec(text);
  return m ? Number(m[1]) : null;
}

function hostCovers(host: Section, spec: ListenSpec): boolean {
  return host.arg.split(' ').some((a) => {
    const port = addressPort(a);
    return port === null || port === spec.port;
  });
}

/** SSLEngine on in the server config covers every listener; in a virtual host, the ports it names. */
function engineCovers(spec: ListenSpec, engineOn: readonly boolean[], hostSections: readonly Section[]): boolean {
  if (engineOn[0]) return true;
  return hostSections.some((h, i) => engineOn[i + 1] && hostCovers(h, spec));
}

function servesCertificate(spec: ListenSpec, hosts: ReadonlyArray<TlsHost | null>, hostSections: readonly Section[]): boolean {
  if (hosts[0] !== null) return true;
  return hostSections.some((h, i) => hosts[i + 1] !== null && hostCovers(h, spec));
}
