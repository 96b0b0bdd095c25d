import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startEmulatorProcess } from '../support/emulator-process';
import { toolAvailable } from '../support/tools';

/**
 * Seeds 000/001 as an operator runs them today, against `npm run emulator` (a separate process) with the
 * real `npx iot-provisioner` binary: `ca create`, `ca register --mode sni-only`, a device certificate made
 * with plain openssl word for word as in the seeds, `devices allow`, then `device connect` — JITR admits
 * it — and `vend` through the IAM-authorized API. Skipped, with a message, without openssl.
 */

const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);
const hasOpenssl = toolAvailable('openssl', ['version']);
if (!hasOpenssl) console.warn('emulator-cli.test: no openssl on this machine; skipped');

const ACCOUNT_B = '444455556666';
let dir: string;
let emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;

/** `npx iot-provisioner …` as a user types it, in `cwd`. */
const cli = (cwd: string, ...args: string[]) =>
  run(process.execPath, [join(ROOT, 'bin/iot-provisioner.cjs'), ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: dir },
    timeout: 90_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
/** The target flags of commands that talk to the local IoT Core. */
const local = () => ['--local', '--endpoints-file', emulator.endpointsFile];
const openssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iot-emulator-cli-'));
  // Account B too (seed 000): the last test acts in it.
  emulator = await startEmulatorProcess(dir, ['--account', ACCOUNT_B]);
}, 90_000);

afterAll(async () => {
  await emulator?.stop();
  rmSync(dir, { recursive: true, force: true });
});

(hasOpenssl ? it : it.skip)('admits an openssl-made device of a CA created and registered with the CLI (seeds 000/001), then vends one', async () => {
  const ca = join(dir, 'ca');
  const device = join(dir, 'device');
  mkdirSync(device);

  const created = await cli(dir, 'ca', 'create', '--out', ca);
  expect(created).toMatchObject({ code: 0 });
  const registered = await cli(dir, 'ca', 'register', '--mode', 'sni-only', '--ca-dir', ca, ...local());
  expect(registered.code).toBe(0);
  expect(registered.stdout).toMatch(/caCertificateIds/);

  // Seed 000, word for word but for the paths.
  openssl(device, 'genrsa', '-out', 'validDevice.key', '2048');
  openssl(device, 'req', '-new', '-key', 'validDevice.key', '-out', 'validDevice.csr', '-subj', '/CN=ValidDevice/serialNumber=SEED-0001');
  openssl(device, 'x509', '-req', '-in', 'validDevice.csr', '-CA', join(ca, 'rootCA.pem'), '-CAkey', join(ca, 'rootCA.key'), '-CAcreateserial', '-out', 'validDevice.crt', '-days', '365', '-sha256');
  writeFileSync(join(device, 'validDeviceAndCA.crt'), Buffer.concat([readFileSync(join(device, 'validDevice.crt')), readFileSync(join(ca, 'rootCA.pem'))]));
  expect((await cli(dir, 'devices', 'allow', 'SEED-0001', ...local())).code).toBe(0);

  const connected = await cli(dir, 'device', 'connect', 'SEED-0001', '--cert', join(device, 'validDeviceAndCA.crt'), '--key', join(device, 'validDevice.key'), '--timeout', '60', ...local());
  expect(connected.stderr + connected.stdout).toMatch(/connected as SEED-0001 after [2-9] attempts/);
  expect(connected.code).toBe(0);

  // Certificate vending through the IAM-authorized API, signed by the CLI.
  expect((await cli(dir, 'devices', 'allow', 'SEED-0002', ...local())).code).toBe(0);
  const vended = await cli(dir, 'vend', 'SEED-0002', '--out', join(dir, 'vended'), ...local());
  expect(vended.code).toBe(0);
  expect(readFileSync(join(dir, 'vended', 'SEED-0002.crt'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  const reconnected = await cli(dir, 'device', 'connect', 'SEED-0002', '--dir', join(dir, 'vended'), '--timeout', '30', ...local());
  expect(reconnected.code).toBe(0);
}, 240_000);

it('adds console users with `local user add`, whose tokens carry their groups to the HTTP API (the emulator’s own user pool)', async () => {
  const added = await cli(dir, 'local', 'user', 'add', 'Tech@Example.com', '--group', 'technicians', '--password', 'a long local password', '--endpoints-file', emulator.endpointsFile);
  expect(added).toMatchObject({ code: 0 });
  expect(added.stdout).toContain('added tech@example.com (groups: technicians)');
  expect(added.stdout).toContain(`sign-in: ${emulator.endpoints.userPool}/oauth2/authorize`);
  expect(added.stdout).not.toContain('a long local password');

  const generated = await cli(dir, 'local', 'user', 'add', 'op@example.com', '--group', 'operators', '--endpoints-file', emulator.endpointsFile);
  expect(generated.stdout).toMatch(/^password: \S{20,}$/m);

  const unknownGroup = await cli(dir, 'local', 'user', 'add', 'x@example.com', '--group', 'admins', '--endpoints-file', emulator.endpointsFile);
  expect(unknownGroup.code).not.toBe(0);
  expect(unknownGroup.stderr).toContain('group must be one of operators, technicians, not "admins"');
  expect((await cli(dir, 'local', 'user', 'add', 'x@example.com', '--endpoints-file', emulator.endpointsFile)).stderr).toContain('--group operators|technicians is required');

  const { stdout: token } = await cli(dir, 'local', 'token', 'tech@example.com', '--endpoints-file', emulator.endpointsFile);
  const claims = JSON.parse(Buffer.from(token.trim().split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  expect(claims).toMatchObject({ 'cognito:groups': ['technicians'], 'cognito:username': 'tech@example.com', token_use: 'id' });
  const vend = await fetch(`${emulator.endpoints.http}/provisioning-claims`, { method: 'POST', headers: { authorization: token.trim() }, body: '{}' });
  expect(vend.status).toBe(201);

  const discovery = (await (await fetch(`${emulator.endpoints.userPool}/.well-known/openid-configuration`)).json()) as { authorization_endpoint: string };
  expect(discovery.authorization_endpoint).toBe(`${emulator.endpoints.userPool}/oauth2/authorize`);
}, 120_000);

it('serves the console, whose config.json names this emulator’s API and sign-in', async () => {
  const consoleUrl = (emulator.endpoints as { console?: string }).console!;
  expect(consoleUrl).toMatch(/^http:\/\/localhost:\d+\/$/);
  const page = await fetch(consoleUrl);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  const config = (await (await fetch(`${consoleUrl}config.json`)).json()) as { apiUrl: string; signIn: { domain: string; clientId: string } };
  expect(config.apiUrl).toBe(emulator.endpoints.http);
  expect(config.signIn.domain).toBe(emulator.endpoints.userPool);
  // The API lets the console's origin call it (CORS), and no other.
  const preflight = (origin: string) => fetch(`${emulator.endpoints.http}/provisioning-claims`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
  expect((await preflight(new URL(consoleUrl).origin)).headers.get('access-control-allow-origin')).toBe(new URL(consoleUrl).origin);
  expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
}, 30_000);

(hasOpenssl ? it : it.skip)('deploys into account B too (--account): the device allowed in A only is refused at B’s endpoint, and A is untouched (seed 000)', async () => {
  expect(emulator.output).toMatch(new RegExp(`account B +${ACCOUNT_B}: MQTT SNI [0-9a-f]+-ats\\.iot\\.us-east-1\\.amazonaws\\.com`));
  expect(JSON.parse(readFileSync(emulator.endpointsFile, 'utf8')).accounts).toEqual([
    { label: 'A', accountId: '123456789012' },
    { label: 'B', accountId: ACCOUNT_B },
  ]);
  const device = join(dir, 'device');
  expect((await cli(dir, 'ca', 'register', '--mode', 'sni-only', '--ca-dir', join(dir, 'ca'), ...local(), '--account', 'B')).code).toBe(0);
  const files = ['--cert', join(device, 'validDeviceAndCA.crt'), '--key', join(device, 'validDevice.key')];

  const atB = await cli(dir, 'device', 'connect', 'SEED-0001', ...files, '--timeout', '30', ...local(), '--account', 'B');
  expect(atB.code).toBe(1);
  expect(atB.stderr).toMatch(/REVOKED: the JITR handler refused the device \(device-not-allowlisted\)/);
  expect((await cli(dir, 'devices', 'show', 'SEED-0001', ...local())).stdout).toContain('SEED-0001');

  const atA = await cli(dir, 'device', 'connect', 'SEED-0001', ...files, '--timeout', '30', ...local());
  expect(atA.stderr + atA.stdout).toMatch(/connected as SEED-0001 after 1 attempt/);
  expect(atA.code).toBe(0);
}, 120_000);
