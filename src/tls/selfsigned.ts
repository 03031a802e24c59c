// `mpmproxy cert selfsigned HOST`: a private key and a self-signed certificate for HOST, made
// with node-forge (the key pair from Node's crypto, which forge uses when it can), for the
// embedded HTTPS example and for trying TLS out. Not for production: clients do not trust it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import { TlsError } from '../errors';

export interface SelfSigned {
  keyFile: string;
  certFile: string;
}

const DAY_MS = 86_400_000;

export function selfSignedPem(host: string, days: number): { keyPem: string; certPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // Positive, 16 bytes: what RFC 5280 asks of a serial.
  cert.serialNumber = `01${crypto.randomBytes(15).toString('hex')}`;
  const now = Date.now();
  // Whole seconds: OpenSSL refuses fractions in validity dates.
  cert.validity.notBefore = new Date(Math.floor(now / 1000) * 1000 - 60_000);
  cert.validity.notAfter = new Date(Math.floor(now / 1000) * 1000 + days * DAY_MS);
  const name = [{ name: 'commonName', value: host }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }] },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { keyPem: forge.pki.privateKeyToPem(keys.privateKey), certPem: forge.pki.certificateToPem(cert) };
}

/** Writes DIR/HOST.key (mode 0600) and DIR/HOST.crt. */
export function writeSelfSigned(host: string, dir: string, days = 365): SelfSigned {
  const { keyPem, certPem } = selfSignedPem(host, days);
  const keyFile = path.resolve(dir, `${host}.key`);
  const certFile = path.resolve(dir, `${host}.crt`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(keyFile, keyPem, { mode: 0o600 });
    fs.writeFileSync(certFile, certPem);
  } catch (err) {
    throw new TlsError(`cannot write ${keyFile} and ${certFile}: ${(err as Error).message}`, { cause: err });
  }
  return { keyFile, certFile };
}
