// The certificate both TLS servers of a benchmark present: `mpmproxy cert selfsigned`'s.
import { writeSelfSigned } from '../../src/tls/selfsigned';
import type { WorkDir } from './work-dir';

export function issueSelfSigned(dir: WorkDir): { cert: string; key: string } {
  const written = writeSelfSigned('localhost', dir.path);
  return { cert: written.certFile, key: written.keyFile };
}
