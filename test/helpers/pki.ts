// Certificates made at test time: a root CA, intermediates, server and client certificates,
// and the broken ones `-t` must catch (expired, fractional seconds in the dates, a key that is
// not the certificate's). Keys come from Node's crypto (forge's own are slow); forge builds and
// signs the certificates.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface Issued {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  certPem: string;
  keyPem: string;
}

export interface CertOptions {
  /** Signs it; absent: self-signed. */
  issuer?: Issued;
  ca?: boolean;
  /** Host names (DNS) and IPs for subjectAltName. */
  names?: string[];
  client?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Writes the validity dates as GeneralizedTime with fractions of a second. */
  fractionalSeconds?: boolean;
}

const DAY = 86_400_000;

function keyPair(): { keyPem: string; pub: forge.pki.PublicKey; priv: forge.pki.rsa.PrivateKey } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    pub: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    priv: forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey,
  };
}

export function issue(commonName: string, o: CertOptions = {}): Issued {
  const pair = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.pub;
  cert.serialNumber = `1${crypto.randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = o.notBefore ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = o.notAfter ?? new Date(Date.now() + 365 * DAY);
  cert.setSubject([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'mpmproxy tests' }]);
  cert.setIssuer((o.issuer?.cert ?? cert).subject.attributes);
  const extensions: object[] = [];
  if (o.ca) extensions.push({ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  else extensions.push({ name: 'extKeyUsage', serverAuth: !o.client, clientAuth: !!o.client });
  if (o.names) {
    extensions.push({
      name: 'subjectAltName',
      altNames: o.names.map((n) => (/^[\d.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    });
  }
  cert.setExtensions(extensions);
  const signer = o.issuer?.key ?? pair.priv;
  cert.sign(signer, forge.md.sha256.create());
  const certPem = o.fractionalSeconds ? withFractionalDates(cert, signer) : forge.pki.certificateToPem(cert);
  return { cert, key: pair.priv, certPem, keyPem: pair.keyPem };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function generalizedTime(d: Date): string {
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

/** Rewrites the validity as GeneralizedTime with milliseconds and signs the result again. */
function withFractionalDates(cert: forge.pki.Certificate, signer: forge.pki.rsa.PrivateKey): string {
  const { asn1 } = forge;
  // Not in @types/node-forge, but part of forge's pki API.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  // version [0], serial, signature algorithm, issuer, validity
  const validity = fields[4];
  validity.value = [cert.validity.notBefore, cert.validity.notAfter].map((d) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, generalizedTime(d)),
  );
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbs).getBytes());
  const whole = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(forge.pki.oids.sha256WithRSAEncryption).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signer.sign(md)),
  ]);
  return forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(whole).getBytes() });
}

/** A root CA, an intermediate under it, and server certificates for `names` under the
 * intermediate, as most public PKIs issue them. */
export interface Pki {
  root: Issued;
  intermediate: Issued;
}

export function pki(name = 'mpmproxy test'): Pki {
  const root = issue(`${name} root CA`, { ca: true });
  const intermediate = issue(`${name} intermediate CA`, { ca: true, issuer: root });
  return { root, intermediate };
}

/** Writes files into `dir` and returns their paths by name. */
export function writePems(dir: string, files: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    out[name] = path.join(dir, name);
    fs.writeFileSync(out[name], text);
  }
  return out;
}
