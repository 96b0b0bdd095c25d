import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/** `npm start`: the sandbox runs offline, decides every case as expected, prints the table and exits 0. */

const ROOT = resolve(__dirname, '../..');

it('runs the JITR and fleet-provisioning sandbox over MQTT/TLS and decides every device correctly', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'local/sandbox.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    timeout: 120_000,
  });
  const row = (flow: string, label: string) => stdout.split('\n').find((line) => line.startsWith(flow) && line.includes(`  ${label}  `)) ?? '';
  expect(row('JITR', 'valid, allow-listed')).toMatch(/SENSOR-0001\s+activated\s+admitted\s+ACTIVE\s+SENSOR-0001\s+in after 2 attempts, published\s+✓/);
  expect(row('JITR', 'valid, RSA-2048, id from CN')).toMatch(/gateway-0002\s+activated\s+admitted\s+ACTIVE\s+gateway-0002\s+in after/);
  expect(row('JITR', 'not allow-listed')).toMatch(/revoked\s+device-not-allowlisted\s+REVOKED\s+—\s+refused/);
  expect(row('JITR', 'blocked')).toMatch(/revoked\s+device-blocked\s+REVOKED/);
  expect(row('JITR', 'expired')).toMatch(/refused at TLS\s+certificate-expired\s+not registered/);
  expect(row('JITR', 'RSA-1024 key')).toMatch(/revoked\s+key-too-weak\s+REVOKED/);
  expect(row('JITR', 'unknown CA')).toMatch(/refused at TLS\s+unknown-certificate-authority\s+not registered/);
  expect(row('JITR', 'no device id')).toMatch(/revoked\s+device-id-missing\s+REVOKED/);
  expect(row('fleet', 'allow-listed serial (CSR)')).toMatch(/FLEET-0001\s+provisioned\s+allowed\s+ACTIVE\s+FLEET-0001\s+reconnected as FLEET-0001, published\s+✓/);
  expect(row('fleet', 'allow-listed serial (keys by AWS)')).toMatch(/FLEET-0002\s+provisioned\s+allowed\s+ACTIVE/);
  expect(row('fleet', 'unknown serial')).toMatch(/refused\s+device-not-allowlisted\s+PENDING_ACTIVATION\s+—\s+provision: AccessDenied/);
  expect(row('fleet', 'blocked serial')).toMatch(/refused\s+device-blocked/);
  expect(row('fleet', 'takeover of FLEET-0001')).toMatch(/refused\s+device-already-bound/);
  expect(stdout).toMatch(/13 devices, 0 unexpected, 0 events in the failure queue/);
}, 120_000);
