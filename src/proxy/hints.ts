// What a failed backend request becomes: the status the client gets, whether the backend was
// reached at all (for the upstream's bookkeeping), and an error-log cause in the words an
// operator searches for, with a hint of what to check next, as nevisProxy's connectivity FAQ
// gives them.
import type { Outcome, UpstreamMember } from './upstream';

export interface BackendFailure {
  status: 502 | 504;
  outcome: Outcome;
  code: string;
  cause: string;
  hint: string;
}

type FailureError = Error & { code?: string; hostname?: string; address?: string; port?: number };

const dnsCodes = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const unreachableCodes = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
const closedCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
// OpenSSL's verification results as Node names them, and Node's own host name check.
const certificateCode = /CERT|UNABLE_TO_|SELF_SIGNED|ALTNAME|HOSTNAME_MISMATCH|INVALID_CA|PATH_LENGTH/;

/** `timeout` says which timeout applies to the route, as ProxyPlan.timeoutText does. */
export function describeFailure(err: FailureError, member: UpstreamMember, timeout: string): BackendFailure {
  const code = err.code ?? err.name;
  const where = err.address !== undefined && err.port !== undefined ? `${err.address}:${err.port}` : member.host;
  const hostname = member.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const fail = (status: 502 | 504, outcome: Outcome, cause: string, hint: string): BackendFailure => ({ status, outcome, code, cause, hint });
  if (dnsCodes.has(code)) {
    const host = err.hostname ?? hostname;
    return fail(502, 'connect-failure', `DNS lookup of host ${host} failed: ${code}`,
      `check that ${host} resolves on this machine (getent hosts ${host}); give names that only some resolvers know an IP address or an /etc/hosts line`);
  }
  if (code === 'ECONNREFUSED') {
    return fail(502, 'connect-failure', `connection refused by ${where}`,
      `is the backend running and listening on ${where}? check from this machine with curl -v ${member.origin}/`);
  }
  if (unreachableCodes.has(code)) {
    return fail(502, 'connect-failure', `${where} is unreachable (${code})`, 'check routing and firewalls between this machine and the backend');
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    return fail(504, 'connect-failure', `no connection to ${member.origin} within the connect timeout (${err.message})`,
      'the backend host does not answer: is it up, does a firewall drop the packets? connectiontimeout= on the ProxyPass sets this timeout');
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return fail(504, 'failure', `no response headers within ${timeout}`,
      'the backend is slow or stuck on this request; if such waits are expected, raise ProxyTimeout (or timeout= on the ProxyPass)');
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return fail(504, 'failure', `no response data for ${timeout} while the body was being received`,
      'the backend stalled in the middle of its answer; if it streams with long pauses, raise ProxyTimeout (or timeout= on the ProxyPass)');
  }
  if (certificateCode.test(code)) {
    const host = hostname;
    return fail(502, 'connect-failure', `TLS certificate of ${member.origin} not accepted: ${code}: ${err.message}`,
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `the certificate does not name ${host}: use a name it was issued for in the ProxyPass URL`
        : `check the chain with openssl s_client -connect ${member.host} -servername ${host} -showcerts -CAfile ca.pem; SSLProxyCACertificateFile must hold the issuing CA and every intermediate`);
  }
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') {
    return fail(502, 'connect-failure', `TLS handshake with ${member.origin} failed: ${code}: ${err.message}`,
      'does the port speak TLS? http:// or https:// in the ProxyPass URL must match what the backend listens for');
  }
  if (closedCodes.has(code)) {
    return fail(502, 'failure', `${member.origin} closed the connection before its response was complete (${code}: ${err.message})`,
      "check the backend's own error log; a backend that closes idle connections sooner than mpmproxy reuses them (ttl=) also shows this");
  }
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return fail(502, 'failure', `invalid HTTP response from ${member.origin}: ${err.message} (${code})`,
      'does the port speak HTTP/1.1 (not TLS: then write https://)? look at what it sends with curl -v, or tcpdump');
  }
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
    return fail(502, 'failure', `${member.origin} sent a header that cannot be relayed: ${err.message}`, 'fix the header in the backend');
  }
  return fail(502, 'failure', `${member.origin} failed: ${code}: ${err.message}`, "check the backend's own logs");
}
