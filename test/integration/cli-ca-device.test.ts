import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  ListPrincipalThingsCommand,
} from '@aws-sdk/client-iot';
import { eventually, startCliStack, type CliStack } from '../support/cli-stack';
import { toolAvailable } from '../support/tools';

/**
 * `iot-provisioner ca …` and `device issue|connect|credentials` against the local IoT Core: a CA made and
 * registered by the CLI (both modes), device certificates from it — or from plain openssl, as seeds
 * 000/001 make them — admitted by JITR over real MQTT/TLS, and credentials from the credential provider.
 */

let stack: CliStack;
let caDir: string;
let caId: string;

const mode = (path: string) => statSync(path).mode & 0o777;
const certificatesOf = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const caState = async (certificateId: string) => (await stack.iot.send(new DescribeCACertificateCommand({ certificateId }))).certificateDescription;
const certificateStatus = async (certificateId: string) => (await stack.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription;
const idIn = (out: string, label: RegExp) => label.exec(out)?.[1] ?? '';

beforeAll(async () => {
  stack = await startCliStack();
  caDir = join(stack.dir, 'ca');
});

afterAll(async () => {
  await stack.close();
});

describe('ca create', () => {
  it('writes rootCA.key (0600) and a self-signed CA certificate rootCA.pem, and prints no key', async () => {
    const created = await stack.cli('ca', 'create', '--out', caDir, '--name', 'CliTestRootCA');

    expect(created.code).toBe(0);
    const certificate = new X509Certificate(readFileSync(join(caDir, 'rootCA.pem')));
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toBe('CN=CliTestRootCA');
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(require('node:crypto').createPrivateKey(readFileSync(join(caDir, 'rootCA.key'))))).toBe(true);
    expect(mode(join(caDir, 'rootCA.key'))).toBe(0o600);
    expect(`${created.out}\n${created.err}`).not.toMatch(/PRIVATE KEY/);
    caId = idIn(created.out, /CA certificate id[^:]*: ([0-9a-f]{64})/);
    expect(caId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses to overwrite an existing key without --force, and keeps it', async () => {
    const before = readFileSync(join(caDir, 'rootCA.key'), 'utf8');
    const again = await stack.cli('ca', 'create', '--out', caDir);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/rootCA\.(pem|key).*already exist.*--force/);
    expect(readFileSync(join(caDir, 'rootCA.key'), 'utf8')).toBe(before);
  });
});

describe('ca register', () => {
  it('registers the CA in SNI_ONLY mode, ACTIVE, with auto-registration, and names the caCertificateIds parameter', async () => {
    const registered = await stack.cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', caDir, ...stack.local);

    expect(registered).toMatchObject({ code: 0 });
    expect(registered.out).toContain(`registered CA ${caId}`);
    expect(registered.out).toContain(`caCertificateIds=${caId}`);
    expect(await caState(caId)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', certificateMode: 'SNI_ONLY' });
  });

  it('registering again is not an error: it says so and leaves the CA ACTIVE', async () => {
    const again = await stack.cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', caDir, ...stack.local);
    expect(again.code).toBe(0);
    expect(again.out).toContain('already registered');
    expect(await caState(caId)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
  });

  it('registers in DEFAULT mode with a verification certificate it makes from the registration code', async () => {
    const dir = join(stack.dir, 'ca-default');
    const created = await stack.cli('ca', 'create', '--out', dir, '--key-type', 'ec-p256');
    const id = idIn(created.out, /CA certificate id[^:]*: ([0-9a-f]{64})/);

    const registered = await stack.cli('ca', 'register', '--mode', 'default', '--ca-dir', dir, ...stack.local);

    expect(registered.code).toBe(0);
    expect(registered.err).toMatch(/registration code/);
    expect(await caState(id)).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE', certificateMode: 'DEFAULT' });
  });

  it.each([
    [['ca', 'register'], /--mode sni-only\|default is required/],
    [['ca', 'register', '--mode', 'multi'], /got "multi"/],
  ])('refuses %j with exit code 2', async (args, message) => {
    const result = await stack.cli(...args, '--ca-dir', caDir, ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });

  it('says where the CA files come from when they are missing', async () => {
    const result = await stack.cli('ca', 'register', '--mode', 'default', '--ca-dir', join(stack.dir, 'nowhere'), ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/CA certificate not found: .*rootCA\.pem[\s\S]*ca create/);
  });
});

describe('device issue, device connect (JITR)', () => {
  const devicesDir = () => join(stack.dir, 'devices');

  it('issues <id>.key (0600), <id>.crt and the chain <id>AndCA.crt = device certificate, then the CA', async () => {
    const issued = await stack.cli('device', 'issue', 'CLI-0001', '--ca-dir', caDir, '--out', devicesDir());

    expect(issued.code).toBe(0);
    expect(mode(join(devicesDir(), 'CLI-0001.key'))).toBe(0o600);
    const device = new X509Certificate(readFileSync(join(devicesDir(), 'CLI-0001.crt')));
    const chain = certificatesOf(readFileSync(join(devicesDir(), 'CLI-0001AndCA.crt'), 'utf8'));
    const ca = new X509Certificate(readFileSync(join(caDir, 'rootCA.pem')));
    expect(chain).toHaveLength(2);
    expect(new X509Certificate(chain[0]!).fingerprint256).toBe(device.fingerprint256);
    expect(new X509Certificate(chain[1]!).fingerprint256).toBe(ca.fingerprint256);
    expect(device.verify(ca.publicKey)).toBe(true);
    expect(device.subject).toContain('CN=CLI-0001');
    expect(device.subject).toContain('serialNumber=CLI-0001');
    expect(`${issued.out}\n${issued.err}`).not.toMatch(/PRIVATE KEY/);
  });

  it('connects an allow-listed device: dropped while pending, retried, admitted; certificate ACTIVE with the thing; the message arrives', async () => {
    const monitor = await stack.monitor('device/CLI-0001/telemetry');
    expect((await stack.cli('devices', 'allow', 'CLI-0001', ...stack.local)).code).toBe(0);

    const connected = await stack.cli('device', 'connect', 'CLI-0001', '--dir', devicesDir(), '--message', '{"temperature":21.5}', '--timeout', '30', ...stack.local);

    expect(connected.code).toBe(0);
    const attempts = Number(/after (\d+) attempts?/.exec(connected.out)?.[1]);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(connected.err).toMatch(/attempt 1: refused .*(PENDING_ACTIVATION|pending)/);
    expect(connected.err).toContain('over MQTT 5 as CLI-0001');
    expect(connected.out).toContain('published 20 bytes to device/CLI-0001/telemetry');
    const certificateId = new X509Certificate(readFileSync(join(devicesDir(), 'CLI-0001.crt'))).fingerprint256.replace(/:/g, '').toLowerCase();
    const description = await certificateStatus(certificateId);
    expect(description?.status).toBe('ACTIVE');
    const { things } = await stack.iot.send(new ListPrincipalThingsCommand({ principal: description!.certificateArn! }));
    expect(things).toEqual(['CLI-0001']);
    const received = await eventually(() => monitor.messages, (m) => m.length > 0);
    expect(received).toEqual([{ topic: 'device/CLI-0001/telemetry', payload: '{"temperature":21.5}' }]);
  });

  it('stops with the reason when JITR revokes the certificate (device not allow-listed)', async () => {
    await stack.cli('device', 'issue', 'CLI-0002', '--ca-dir', caDir, '--out', devicesDir());

    const refused = await stack.cli('device', 'connect', 'CLI-0002', '--dir', devicesDir(), '--timeout', '30', ...stack.local);

    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/CLI-0002 could not connect: certificate [0-9a-f]{64} is REVOKED: the JITR handler refused the device \(device-not-allowlisted\)/);
    expect(refused.err).toContain('allow the device (iot-provisioner devices allow CLI-0002), issue a new certificate');
    expect(refused.out).not.toContain('connected');
  });

  it('gives up early, with the likely causes, when AWS IoT does not register the certificate (its CA is not registered)', async () => {
    const stranger = join(stack.dir, 'stranger-ca');
    await stack.cli('ca', 'create', '--out', stranger, '--name', 'NotRegisteredCA');
    await stack.cli('device', 'issue', 'CLI-0003', '--ca-dir', stranger, '--out', devicesDir());
    await stack.cli('devices', 'allow', 'CLI-0003', ...stack.local);

    const started = Date.now();
    const refused = await stack.cli('device', 'connect', 'CLI-0003', '--dir', devicesDir(), '--timeout', '60', ...stack.local);

    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/CLI-0003 could not connect: AWS IoT did not register certificate [0-9a-f]{64}: its CA is not registered/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a publish outside the device policy fails clearly', async () => {
    const result = await stack.cli('device', 'connect', 'CLI-0001', '--dir', devicesDir(), '--topic', 'device/SOMEONE-ELSE/telemetry', ...stack.local);
    expect(result.code).toBe(1);
    expect(result.out).toContain('connected as CLI-0001 after 1 attempt');
    expect(result.err).toMatch(/publish to device\/SOMEONE-ELSE\/telemetry failed.*device\/CLI-0001\/\*/);
  });

  it('speaks MQTT 3.1.1 when asked (--mqtt 3.1.1), MQTT 5 by default', async () => {
    const from = stack.core.mqtt!.log.length;
    const three = await stack.cli('device', 'connect', 'CLI-0001', '--dir', devicesDir(), '--mqtt', '3.1.1', ...stack.local);
    expect(three.code).toBe(0);
    expect(three.err).toContain('over MQTT 3.1.1 as CLI-0001');
    const five = await stack.cli('device', 'connect', 'CLI-0001', '--dir', devicesDir(), ...stack.local);
    expect(five.code).toBe(0);
    const connected = stack.core.mqtt!.log.slice(from).filter((entry) => entry.event === 'connected' && entry.clientId === 'CLI-0001');
    expect(connected.map((entry) => entry.mqtt)).toEqual(['3.1.1', '5']);
  });

  it('stops at once when the server is not trusted (a wrong --ca-file), saying which CA the server has', async () => {
    const result = await stack.cli('device', 'connect', 'CLI-0001', '--dir', devicesDir(), '--ca-file', join(caDir, 'rootCA.pem'), '--timeout', '30', ...stack.local);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/CLI-0001 could not connect: the server's certificate is not trusted \(.+\): the local IoT Core's server CA is its root CA/);
    expect(result.err).not.toMatch(/attempt 2/);
  });

  it('names the missing files and how to make them', async () => {
    const result = await stack.cli('device', 'connect', 'NOBODY-1', '--dir', devicesDir(), ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/device certificate not found: .*NOBODY-1\.crt[\s\S]*device issue NOBODY-1/);
  });
});

describe('device credentials', () => {
  const devicesDir = () => join(stack.dir, 'devices');

  it('trades the certificate of a connected device for temporary credentials (JSON, and export lines)', async () => {
    const json = await stack.cli('device', 'credentials', 'CLI-0001', '--dir', devicesDir(), ...stack.local);
    expect(json.code).toBe(0);
    const { credentials } = JSON.parse(json.out) as { credentials: Record<string, string> };
    expect(credentials).toEqual({
      accessKeyId: expect.stringMatching(/^ASIA/),
      secretAccessKey: expect.any(String),
      sessionToken: expect.any(String),
      expiration: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(stack.core.credentials!.issued.at(-1)).toMatchObject({ thingName: 'CLI-0001', roleArn: expect.stringContaining('role/') });

    const env = await stack.cli('device', 'credentials', 'CLI-0001', '--dir', devicesDir(), '--format', 'env', ...stack.local);
    expect(env.code).toBe(0);
    expect(env.out.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^export AWS_ACCESS_KEY_ID='ASIA\w+'$/),
      expect.stringMatching(/^export AWS_SECRET_ACCESS_KEY='.+'$/),
      expect.stringMatching(/^export AWS_SESSION_TOKEN='.+'$/),
    ]);
  });

  it('explains the 403 for a thing name that is not attached to the certificate', async () => {
    const issuedBefore = stack.core.credentials!.issued.length;
    const refused = await stack.cli('device', 'credentials', 'CLI-0001', '--dir', devicesDir(), '--thing-name', 'SOMEONE-ELSE', ...stack.local);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(403: .*\): --thing-name SOMEONE-ELSE must name a thing attached to this certificate/);
    expect(refused.out).toBe('');
    expect(stack.core.credentials!.issued).toHaveLength(issuedBefore);
  });

  it('explains the 403 for a certificate that is not ACTIVE', async () => {
    const refused = await stack.cli('device', 'credentials', 'CLI-0002', '--dir', devicesDir(), ...stack.local);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(403/);
  });
});

describe('plain openssl files, as seeds 000/001 make them', () => {
  const hasOpenssl = toolAvailable('openssl', ['version']);
  if (!hasOpenssl) {
    it.skip('needs openssl on the PATH (not found): skipped', () => undefined);
    return;
  }
  const openssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

  it('admits a device certificate made with openssl from a CA made by `ca create` and registered by `ca register`', async () => {
    const dir = join(stack.dir, 'openssl-device');
    mkdirSync(dir);
    const ca = join(stack.dir, 'ca-for-openssl');
    expect((await stack.cli('ca', 'create', '--out', ca)).code).toBe(0);
    expect((await stack.cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', ca, ...stack.local)).code).toBe(0);
    // Seed 000, word for word but for the paths.
    openssl(dir, 'genrsa', '-out', 'validDevice.key', '2048');
    openssl(dir, 'req', '-new', '-key', 'validDevice.key', '-out', 'validDevice.csr', '-subj', '/CN=ValidDevice/serialNumber=OPENSSL-0001');
    openssl(dir, 'x509', '-req', '-in', 'validDevice.csr', '-CA', join(ca, 'rootCA.pem'), '-CAkey', join(ca, 'rootCA.key'), '-CAcreateserial', '-out', 'validDevice.crt', '-days', '365', '-sha256');
    writeFileSync(join(dir, 'validDeviceAndCA.crt'), Buffer.concat([readFileSync(join(dir, 'validDevice.crt')), readFileSync(join(ca, 'rootCA.pem'))]));
    expect((await stack.cli('devices', 'allow', 'OPENSSL-0001', ...stack.local)).code).toBe(0);

    const connected = await stack.cli('device', 'connect', 'OPENSSL-0001', '--cert', join(dir, 'validDeviceAndCA.crt'), '--key', join(dir, 'validDevice.key'), '--timeout', '30', ...stack.local);

    expect(connected.code).toBe(0);
    expect(connected.out).toMatch(/connected as OPENSSL-0001 after [2-9] attempts/);
    const certificateId = new X509Certificate(readFileSync(join(dir, 'validDevice.crt'))).fingerprint256.replace(/:/g, '').toLowerCase();
    expect((await certificateStatus(certificateId))?.status).toBe('ACTIVE');
  });

  it('issues and admits a device from a CA made with openssl (seed 001) and registered in DEFAULT mode', async () => {
    const ca = join(stack.dir, 'openssl-ca');
    mkdirSync(ca);
    openssl(ca, 'genrsa', '-out', 'rootCA.key', '2048');
    openssl(ca, 'req', '-x509', '-new', '-nodes', '-key', 'rootCA.key', '-sha256', '-days', '1024', '-out', 'rootCA.pem', '-subj', '/CN=MyDeviceRootCA');
    expect((await stack.cli('ca', 'register', '--mode', 'default', '--ca-dir', ca, ...stack.local)).code).toBe(0);
    const out = join(stack.dir, 'openssl-ca-devices');
    expect((await stack.cli('device', 'issue', 'OPENSSL-0002', '--ca-dir', ca, '--out', out)).code).toBe(0);
    await stack.cli('devices', 'allow', 'OPENSSL-0002', ...stack.local);

    const connected = await stack.cli('device', 'connect', 'OPENSSL-0002', '--dir', out, '--timeout', '30', ...stack.local);

    expect(connected.code).toBe(0);
    expect(existsSync(join(out, 'OPENSSL-0002AndCA.crt'))).toBe(true);
  });
});

describe('the command line', () => {
  it.each([
    [['device', 'issue'], /missing argument\nusage: iot-provisioner device issue <deviceId>/],
    [['device', 'issue', 'bad id!'], /a device id matching/],
    [['device', 'connect', 'X', '--rotate'], /--rotate is not an option of `device connect`\nusage: iot-provisioner device connect/],
    [['device', 'connect', 'X', 'Y'], /unexpected argument "Y"/],
    [['device', 'fly'], /usage: device issue\|connect\|provision\|credentials/],
    [['device', 'connect', 'X', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['device', 'connect', 'X', '--mqtt', '4'], /--mqtt expects 5 or 3\.1\.1, got "4"/],
    [['device', 'provision', '--mqtt', '3'], /--mqtt expects 5 or 3\.1\.1, got "3"/],
    [['device', 'credentials', 'X', '--format', 'yaml'], /--format must be json, env or process/],
    [['device', 'issue', 'X', '--key-type', 'rsa-1024'], /--key-type must be one of/],
    [['ca', 'create', '--bogus'], /Unknown option '--bogus'[\s\S]*usage: iot-provisioner ca create/],
  ])('refuses %j with exit code 2 and the usage', async (args, message) => {
    const result = await stack.cli(...args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });

  it.each(['ca create', 'ca register', 'device issue', 'device connect', 'device provision', 'device credentials', 'vend'])('explains `%s` with --help', async (command) => {
    const help = await stack.cli(...command.split(' '), '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain(`usage: iot-provisioner ${command}`);
  });

  it('lists every command in the usage', async () => {
    const usage = await stack.cli('--help');
    for (const command of ['ca create', 'ca register', 'device issue', 'device connect', 'device provision', 'device credentials', 'vend', 'devices allow', 'devices block', 'devices show', 'local token', 'local user add']) {
      expect(usage.out).toContain(`  ${command}`);
    }
  });

  it('without --local on AWS, needs a region before doing anything', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    delete process.env.AWS_PROFILE;
    const dir = join(stack.dir, 'ca-no-region');
    await stack.cli('ca', 'create', '--out', dir);
    try {
      const result = await stack.cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', dir);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(/no region/);
    } finally {
      process.env = saved;
    }
  });
});
