// TLS on the front end, by mod_ssl's names and syntax: certificates, client certificates,
// protocols and ciphers, the shared session cache and the session ticket keys.
import { nonEmpty, one, oneOrMore, seconds, serverOnly, serverOrHost, table, integer } from '../directive-spec';
import { parseEnum, parseFlag, ValueError } from '../values';
import { parseCipherSuite, parseProtocols, parseSessionCache } from '../../tls/protocols';

export type VerifyClient = 'none' | 'optional' | 'require' | 'optional_no_ca';

/** What SSLClientCertHeaders can pass on, mod_ssl's SSL_CLIENT_S_DN, _I_DN, _M_SERIAL and _VERIFY. */
export const clientCertFields = ['subject', 'issuer', 'serial', 'verify'] as const;
export type ClientCertField = (typeof clientCertFields)[number];
export type ClientCertHeaders = Partial<Record<ClientCertField, string>>;

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function clientCertHeaders(args: readonly string[]): ClientCertHeaders {
  const out: ClientCertHeaders = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new ValueError(`expected field=Header-Name such as subject=X-SSL-Client-S-DN (got ${JSON.stringify(arg)})`);
    const field = parseEnum(arg.slice(0, eq), clientCertFields, 'field');
    const name = arg.slice(eq + 1);
    if (!headerName.test(name)) throw new ValueError(`${JSON.stringify(name)} is not a header name`);
    out[field] = name;
  }
  return out;
}

export const tlsDirectives = table({
  SSLEngine: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLEngine on|off', default: 'off (on for a Listen ... https address)',
    summary: 'Serves TLS on the addresses of this virtual host (in the server config: on every Listen)',
    parse: (args) => parseFlag(args[0]),
  },
  SSLCertificateFile: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLCertificateFile file-path', default: 'none',
    summary: 'PEM server certificate, optionally followed by its intermediate CA certificates; repeat for a second key type',
    parse: nonEmpty,
  },
  SSLCertificateKeyFile: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLCertificateKeyFile file-path', default: 'the key in the SSLCertificateFile',
    summary: 'PEM private key of the SSLCertificateFile written in the same position',
    parse: nonEmpty,
  },
  SSLCertificateChainFile: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLCertificateChainFile file-path', default: 'none',
    summary: 'PEM intermediate CA certificates sent after the server certificate',
    parse: nonEmpty,
  },
  SSLCACertificateFile: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLCACertificateFile file-path', default: 'none',
    summary: 'PEM CA certificates that client certificates must chain to',
    parse: nonEmpty,
  },
  SSLVerifyClient: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLVerifyClient none|optional|require|optional_no_ca', default: 'none',
    summary: 'Whether clients are asked for a certificate and whether it must verify',
    parse: (args): VerifyClient => parseEnum(args[0], ['none', 'optional', 'require', 'optional_no_ca'] as const),
  },
  SSLVerifyDepth: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLVerifyDepth number', default: '1',
    summary: 'How many CA certificates may stand between a client certificate and a trusted CA, plus one',
    parse: integer({ min: 0, max: 100 }),
  },
  SSLProtocol: {
    module: 'ssl', contexts: serverOrHost, arity: oneOrMore,
    syntax: 'SSLProtocol [+|-]protocol ...', default: '-all +TLSv1.2 +TLSv1.3',
    summary: 'TLS versions offered: all, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, each set, added (+) or removed (-)',
    parse: parseProtocols,
  },
  SSLCipherSuite: {
    module: 'ssl', contexts: serverOrHost, arity: [1, 2],
    syntax: 'SSLCipherSuite [SSL|TLSv1.3] cipher-spec', default: "Node's default cipher list",
    summary: 'OpenSSL cipher list for TLS 1.2 and below (SSL), or the TLS 1.3 cipher suites (TLSv1.3)',
    parse: parseCipherSuite,
  },
  SSLHonorCipherOrder: {
    module: 'ssl', contexts: serverOrHost, arity: one,
    syntax: 'SSLHonorCipherOrder on|off', default: 'off',
    summary: "Chooses the cipher by the server's order of preference rather than the client's",
    parse: (args) => parseFlag(args[0]),
  },
  SSLClientCertHeaders: {
    module: 'ssl', contexts: serverOrHost, arity: oneOrMore,
    syntax: 'SSLClientCertHeaders field=Header-Name ...', default: 'none',
    summary: "Request headers that pass the client certificate's subject, issuer, serial or verify result to backends",
    parse: clientCertHeaders,
  },
  SSLSessionCache: {
    module: 'ssl', contexts: serverOnly, arity: one,
    syntax: 'SSLSessionCache none|shm:size|shmcb:/path(size)', default: 'none',
    summary: 'Shared-memory cache of TLS 1.2 sessions, so a client resumes on whichever child it reaches',
    parse: (args) => parseSessionCache(args[0]),
  },
  SSLSessionCacheTimeout: {
    module: 'ssl', contexts: serverOnly, arity: one,
    syntax: 'SSLSessionCacheTimeout seconds', default: '300',
    summary: 'How long a TLS session (cached or in a ticket) may be resumed',
    parse: seconds({ positive: true }),
  },
  SSLSessionTickets: {
    module: 'ssl', contexts: serverOnly, arity: one,
    syntax: 'SSLSessionTickets on|off', default: 'on',
    summary: 'Issues TLS session tickets (RFC 5077, and the TLS 1.3 tickets) sealed with the shared ticket key',
    parse: (args) => parseFlag(args[0]),
  },
  SSLSessionTicketKeyRotation: {
    module: 'ssl', contexts: serverOnly, arity: one,
    syntax: 'SSLSessionTicketKeyRotation duration', default: '12h',
    summary: 'How often the master replaces the session ticket key; tickets of the key before are still accepted',
    parse: seconds({ positive: true }),
  },
});
