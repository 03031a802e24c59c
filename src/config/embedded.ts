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
