// The configuration mpmproxy runs with when no -f file is given.

import path from 'node:path';

export const embeddedConfigName = '(embedded)';

export const embeddedConfig = `# mpmproxy's built-in configuration: what runs when no -f file is given.
# Listen on port 8080 of every IPv4 address.
Listen 8080
MPM event
ErrorLog stderr
LogLevel notice

# Counters and the scoreboard of every child.
<Location /server-status>
    SetHandler server-status
</Location>

# The demo backend that \`npm start\` runs beside the daemon. Point mpmproxy at your own
# application with a configuration file holding, e.g., ProxyPass / http://127.0.0.1:3000/
ProxyPass /demo/ http://127.0.0.1:8081/

# HTTPS on port 8443, turned on by -D HTTPS (npm start does), with a self-signed certificate
# for localhost that npm start writes on first start into demo-tls/ (mpmproxy cert selfsigned
# localhost --out demo-tls does the same). The protocols and ciphers of Mozilla's
# "intermediate" profile; sessions resume on any child by ID (the shared cache) or by ticket.
<IfDefine HTTPS>
    Listen 8443 https
    SSLCertificateFile demo-tls/localhost.crt
    SSLCertificateKeyFile demo-tls/localhost.key
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    SSLCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
    SSLHonorCipherOrder off
    SSLSessionCache shm:512K
    SSLSessionCacheTimeout 300
    SSLSessionTickets on
</IfDefine>

# Every other path: a page saying mpmproxy runs and where to configure it.
<Location />
    SetHandler default-page
</Location>
`;

/** Where a configuration's relative paths start by default: its file's directory, or the
 * working directory for the embedded configuration. */
export function configDirectory(configFile: string): string {
  return configFile === embeddedConfigName ? process.cwd() : path.dirname(configFile);
}
