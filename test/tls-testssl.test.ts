// testssl.sh against the embedded configuration's HTTPS example (-D HTTPS, the demo certificate
// of `mpmproxy cert selfsigned`): no vulnerability, and session resumption by ID and by ticket.
// Only the vulnerability checks (-U) and the server defaults (-S, which test resumption) run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { embeddedConfig } from '../src/config/embedded';
import { writeSelfSigned } from '../src/tls/selfsigned';
import { freePort } from './helpers/daemon';
import { daemonFor, hasCommand } from './helpers/cli';

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/** The ids of `testssl -U`'s checks: each must be OK (or INFO where there is nothing to test). */
const vulnerabilities = [
  'heartbleed', 'CCS', 'ticketbleed', 'ROBOT', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'BREACH', 'POODLE_SSL',
  'fallback_SCSV', 'SWEET32', 'FREAK', 'DROWN', 'LOGJAM', 'BEAST', 'LUCKY13', 'RC4',
];

test('testssl.sh finds no vulnerability in the HTTPS example and sees resumption by ID and ticket', { timeout: 110_000 }, async (t) => {
  if (!hasCommand('testssl')) {
    t.skip('testssl.sh is not installed (apt-get install testssl.sh)');
    return;
  }
  const tlsPort = await freePort();
  const config = embeddedConfig.replace(/^Listen 8080$/m, 'Listen 127.0.0.1:@PORT@').replace(/^(\s*)Listen 8443 https$/m, `$1Listen 127.0.0.1:${tlsPort} https`);
  assert.notEqual(config, embeddedConfig);
  const d = await daemonFor(t, { config, args: ['-D', 'HTTPS'], waitChildren: 2 }, (dir) => writeSelfSigned('localhost', path.join(dir, 'demo-tls')));
  const json = path.join(d.dir, 'testssl.json');
  const out = await new Promise<string>((resolve) => {
    execFile(
      'testssl',
      ['-U', '-S', '--quiet', '--color', '0', '--warnings', 'off', '--connect-timeout', '15', '--openssl-timeout', '15', '--jsonfile', json, `127.0.0.1:${tlsPort}`],
      { timeout: 100_000, maxBuffer: 16 * 1024 * 1024 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
  const findings = JSON.parse(fs.readFileSync(json, 'utf8')) as Finding[];
  const byId = new Map(findings.map((f) => [f.id, f]));
  for (const id of vulnerabilities) {
    const f = byId.get(id);
    assert.ok(f, `testssl did not report ${id}:\n${out}`);
    assert.ok(f.severity === 'OK' || f.severity === 'INFO', `${id}: ${f.severity} ${f.finding}`);
  }
  assert.equal(byId.get('sessionresumption_ticket')?.finding, 'supported', out);
  assert.equal(byId.get('sessionresumption_ID')?.finding, 'supported', out);
  assert.match(out, /Session Resumption\s+Tickets: yes, ID: yes/);
});
