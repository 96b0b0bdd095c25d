import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/** `npm start`: the sandbox runs offline, decides every case as expected, prints the table and exits 0. */

const ROOT = resolve(__dirname, '../..');

it('runs the JITR sandbox end to end and decides every device correctly', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'local/sandbox.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    timeout: 120_000,
  });
  const row = (label: string) => stdout.split('\n').find((line) => line.startsWith(label)) ?? '';
  expect(row('valid, allow-listed')).toMatch(/SENSOR-0001\s+activated\s+admitted\s+ACTIVE\s+SENSOR-0001\s+accepted\s+✓/);
  expect(row('valid, RSA-2048, id from CN')).toMatch(/gateway-0002\s+activated\s+admitted\s+ACTIVE\s+gateway-0002\s+accepted/);
  expect(row('not allow-listed')).toMatch(/revoked\s+device-not-allowlisted\s+REVOKED\s+—\s+refused/);
  expect(row('blocked')).toMatch(/revoked\s+device-blocked\s+REVOKED/);
  expect(row('expired')).toMatch(/refused at TLS\s+certificate-expired\s+not registered/);
  expect(row('RSA-1024 key')).toMatch(/revoked\s+key-too-weak\s+REVOKED/);
  expect(row('unknown CA')).toMatch(/refused at TLS\s+unknown-certificate-authority\s+not registered/);
  expect(row('no device id')).toMatch(/revoked\s+device-id-missing\s+REVOKED/);
  expect(stdout).toMatch(/8 devices, 0 unexpected, 0 events in the failure queue/);
}, 120_000);
