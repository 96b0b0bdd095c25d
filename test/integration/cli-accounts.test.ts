import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main';
import { startStackHarness, type AccountStack, type StackHarness } from '../../local/stack-harness';

/**
 * The CLI's `--local --account` (and `--profile` whose key is the account id) against the stack deployed
 * into accounts A and B (seed 000 through the CLI): the CA registered SNI_ONLY in both, a device allowed in
 * B only and connected at B's endpoint (SNI), A knowing nothing of it.
 */

const A = '111122223333';
const B = '444455556666';
let harness: StackHarness;
let a: AccountStack;
let b: AccountStack;
let dir: string;
let local: string[];
const savedEnv = { ...process.env };

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (line) => out.push(line), (line) => err.push(line));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  harness = await startStackHarness({ core: { mqtt: { port: 0 }, credentials: { port: 0 }, lambdaTimeScale: 1_000 }, accounts: [A, B] });
  a = harness.accounts.get(A)!;
  b = harness.accounts.get(B)!;
  dir = mkdtempSync(join(tmpdir(), 'iot-cli-accounts-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify({ ...harness.core.endpoints, accounts: [{ label: 'A', accountId: A }, { label: 'B', accountId: B }] }));
  local = ['--local', '--endpoints-file', endpointsFile];
  writeFileSync(
    join(dir, 'credentials'),
    `[b]\naws_access_key_id = ${B}\naws_secret_access_key = local\n\n[elsewhere]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n`,
  );
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'config');
}, 120_000);

afterAll(async () => {
  await harness.close();
  rmSync(dir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('--local --account', () => {
  it('registers the same CA SNI_ONLY in A and in B', async () => {
    expect((await cli('ca', 'create', '--out', join(dir, 'ca'))).code).toBe(0);
    for (const account of ['A', 'B']) {
      const registered = await cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', join(dir, 'ca'), ...local, '--account', account);
      expect(registered).toMatchObject({ code: 0 });
    }
    const caId = new X509Certificate(readFileSync(join(dir, 'ca', 'rootCA.pem'))).fingerprint256.replace(/:/g, '').toLowerCase();
    expect(harness.core.registry.account(A).certificates.findCa(caId)?.certificateMode).toBe('SNI_ONLY');
    expect(harness.core.registry.account(B).certificates.findCa(caId)?.certificateMode).toBe('SNI_ONLY');
  });

  it('allows a device in B only, and connects it at B’s endpoint: activated in B, unknown in A', async () => {
    expect((await cli('device', 'issue', 'CLI-B-0001', '--ca-dir', join(dir, 'ca'), '--out', join(dir, 'devices'))).code).toBe(0);
    expect((await cli('devices', 'allow', 'CLI-B-0001', ...local, '--account', 'B')).code).toBe(0);
    expect(await b.registry.get('CLI-B-0001')).toMatchObject({ deviceId: 'CLI-B-0001', status: 'allowed' });
    expect(await a.registry.get('CLI-B-0001')).toBeUndefined();

    const connected = await cli('device', 'connect', 'CLI-B-0001', '--dir', join(dir, 'devices'), '--timeout', '30', ...local, '--account', 'B');

    expect(connected.code).toBe(0);
    expect(connected.out).toMatch(/after \d+ attempts?/);
    const certificateId = new X509Certificate(readFileSync(join(dir, 'devices', 'CLI-B-0001.crt'))).fingerprint256.replace(/:/g, '').toLowerCase();
    expect(await b.describe(certificateId)).toMatchObject({ status: 'ACTIVE', things: ['CLI-B-0001'] });
    expect(await a.describe(certificateId)).toEqual({ status: undefined, things: [], policies: [] });
    const inA = await cli('devices', 'show', 'CLI-B-0001', ...local, '--account', 'A');
    expect(inA.code).toBe(1);
  });

  it('takes the 12-digit account id, or the --profile whose access key is it', async () => {
    expect((await cli('devices', 'show', 'CLI-B-0001', ...local, '--account', B)).code).toBe(0);
    const byProfile = await cli('devices', 'show', 'CLI-B-0001', ...local, '--profile', 'b');
    expect(byProfile.code).toBe(0);
    expect(byProfile.out).toContain('CLI-B-0001');
    expect((await cli('devices', 'show', 'CLI-B-0001', ...local)).code).toBe(1);
  });

  it('refuses an account without the stack, a profile with a non-local key, and --account without --local', async () => {
    const unknown = await cli('devices', 'show', 'CLI-B-0001', ...local, '--account', 'C');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(`account C: the local IoT Core has the stack in A (${A}), B (${B}) only`);
    const foreign = await cli('devices', 'show', 'CLI-B-0001', ...local, '--profile', 'elsewhere');
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(/--profile elsewhere: its access key is not a local one/);
    const onAws = await cli('devices', 'show', 'CLI-B-0001', '--region', 'us-east-1', '--account', 'B');
    expect(onAws.code).toBe(2);
    expect(onAws.err).toContain('--account is for --local');
  });
});
