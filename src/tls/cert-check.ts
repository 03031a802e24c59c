// What `mpmproxy -t` (and every start and reload) checks in each configured certificate, before
// a client finds out: the key matches the certificate, the chain reaches a trusted root, the
// dates hold now and for the next 30 days, and the dates are ones OpenSSL still accepts.
import crypto, { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import forge from 'node-forge';
import { isCertificate, pemBlocks } from './pem';

/** Where a certificate came from, for messages in the `file:line: Directive: message` form. */
export interface CertSource {
  file: string;
  line: number;
  directive: string;
  /** The path as written. */
  path: string;
}

export interface CertFinding {
  level: 'error' | 'warn';
  at: CertSource;
  message: string;
}

/** One SSLCertificateFile (with the SSLCertificateChainFile and SSLCACertificateFile in force). */
export interface CertUnderCheck {
  /** The certificate file's PEM certificates: the server's first, then any intermediates. */
  certs: string;
  cert: CertSource;
  key: string;
  keySource: CertSource;
  chain: string | null;
  chainSource: CertSource | null;
  ca: string | null;
  caSource: CertSource | null;
}

const DAY_MS = 86_400_000;
export const EXPIRY_WARNING_DAYS = 30;

interface Parsed {
  x509: X509Certificate;
  at: CertSource;
}

export function checkCertificate(c: CertUnderCheck, now = Date.now()): CertFinding[] {
  const findings: CertFinding[] = [];
  const parse = (pem: string | null, at: CertSource | null): Parsed[] => {
    if (pem === null || at === null) return [];
    const out: Parsed[] = [];
    for (const block of pemBlocks(pem).filter(isCertificate)) {
      const fractional = fractionalDates(block.text);
      let x509: X509Certificate;
      try {
        x509 = new X509Certificate(block.text);
      } catch (err) {
        findings.push({ level: 'error', at, message: `${at.path} holds a certificate that cannot be read: ${(err as Error).message}` });
        continue;
      }
      if (fractional.length > 0) {
        findings.push({
          level: 'error',
          at,
          message:
            `certificate "${oneLine(x509.subject)}" in ${at.path} has fractional seconds in its validity dates (${fractional.join(', ')}); ` +
            'OpenSSL 1.1.1 and later reject such dates (RFC 5280): issue it again',
        });
      }
      out.push({ x509, at });
    }
    return out;
  };
  const own = parse(c.certs, c.cert);
  const chain = parse(c.chain, c.chainSource);
  const cas = parse(c.ca, c.caSource);
  const leaf = own[0];
  if (leaf === undefined) {
    findings.push({ level: 'error', at: c.cert, message: `${c.cert.path} holds no PEM certificate` });
    return findings;
  }
  for (const p of [...own, ...chain, ...cas]) findings.push(...dateFindings(p, now));
  findings.push(...keyFindings(leaf, c));
  findings.push(...chainFindings(leaf, [...own.slice(1), ...chain], cas));
  return findings;
}

function keyFindings(leaf: Parsed, c: CertUnderCheck): CertFinding[] {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(c.key);
  } catch (err) {
    return [{ level: 'error', at: c.keySource, message: `${c.keySource.path} holds no usable private key: ${(err as Error).message}` }];
  }
  if (leaf.x509.checkPrivateKey(key)) return [];
  return [
    {
      level: 'error',
      at: c.keySource,
      message: `the private key in ${c.keySource.path} does not match the certificate "${oneLine(leaf.x509.subject)}" in ${c.cert.path}`,
    },
  ];
}

function dateFindings(p: Parsed, now: number): CertFinding[] {
  const name = `certificate "${oneLine(p.x509.subject)}" in ${p.at.path}`;
  const from = Date.parse(p.x509.validFrom);
  const to = Date.parse(p.x509.validTo);
  if (to < now) return [{ level: 'error', at: p.at, message: `${name} expired on ${p.x509.validTo}` }];
  if (from > now) return [{ level: 'error', at: p.at, message: `${name} is not valid before ${p.x509.validFrom}` }];
  const days = Math.floor((to - now) / DAY_MS);
  if (days < EXPIRY_WARNING_DAYS) return [{ level: 'warn', at: p.at, message: `${name} expires in ${days} days, on ${p.x509.validTo}` }];
  return [];
}

const issuedBy = (cert: X509Certificate, issuer: X509Certificate): boolean => cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

let systemRoots: X509Certificate[] | null = null;

function trustedRoots(): X509Certificate[] {
  systemRoots ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return systemRoots;
}

/** Follows the issuers from the server certificate through the certificates sent with it, to a
 * root the clients trust (the system's, or a private one in SSLCACertificateFile). */
function chainFindings(leaf: Parsed, sent: Parsed[], cas: Parsed[]): CertFinding[] {
  let cur = leaf.x509;
  const seen = new Set<X509Certificate>([cur]);
  for (;;) {
    // By name and signature: OpenSSL's issuer check also wants a CA's key usage, which a
    // self-signed server certificate rightly lacks.
    if (cur.subject === cur.issuer && cur.verify(cur.publicKey)) {
      if (cur !== leaf.x509) return [];
      return [{ level: 'warn', at: leaf.at, message: `certificate "${oneLine(cur.subject)}" in ${leaf.at.path} is self-signed: clients will not trust it unless told to` }];
    }
    const next = sent.find((p) => !seen.has(p.x509) && issuedBy(cur, p.x509));
    if (next === undefined) break;
    cur = next.x509;
    seen.add(cur);
  }
  const top = cur;
  if ([...cas.map((p) => p.x509), ...trustedRoots()].some((root) => issuedBy(top, root))) return [];
  if (top !== leaf.x509 && top.ca) {
    // Every certificate up to a CA is sent: what is left is a root of a private PKI, which the
    // clients must have been given.
    return [
      {
        level: 'warn',
        at: leaf.at,
        message: `the chain of "${oneLine(leaf.x509.subject)}" ends at "${oneLine(top.subject)}", issued by "${oneLine(top.issuer)}", which is not a trusted root here: only clients given that root will trust it`,
      },
    ];
  }
  return [
    {
      level: 'error',
      at: leaf.at,
      message:
        `the chain of "${oneLine(leaf.x509.subject)}" stops at "${oneLine(top.subject)}", whose issuer "${oneLine(top.issuer)}" is in ` +
        'neither the certificate file, SSLCertificateChainFile, SSLCACertificateFile nor the trusted roots: clients will fail with ' +
        'OpenSSL error 20 (unable to get local issuer certificate). Add every intermediate CA certificate to SSLCertificateChainFile ' +
        '(check with openssl s_client -connect host:port -showcerts)',
    },
  ];
}

/** Node prints a distinguished name one attribute a line. */
function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

const UTC_TIME = 23;
const GENERALIZED_TIME = 24;

/** The validity dates written with fractions of a second (GeneralizedTime such as
 * 20100308131427.718Z), which node-forge reads from the DER as written. */
function fractionalDates(pem: string): string[] {
  let tbs: forge.asn1.Asn1;
  try {
    const der = forge.util.decode64(pem.replace(/-----[^-]+-----|\s/g, ''));
    tbs = (forge.asn1.fromDer(der).value as forge.asn1.Asn1[])[0];
  } catch {
    return [];
  }
  for (const field of tbs.value as forge.asn1.Asn1[]) {
    const parts = Array.isArray(field.value) ? (field.value as forge.asn1.Asn1[]) : [];
    if (parts.length !== 2 || !parts.every((p) => p.type === UTC_TIME || p.type === GENERALIZED_TIME)) continue;
    return parts.map((p) => String(p.value)).filter((v) => v.includes('.'));
  }
  return [];
}
