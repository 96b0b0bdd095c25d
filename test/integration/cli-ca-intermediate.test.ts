import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeCACertificateCommand, DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { startCliStack, type CliStack } from '../support/cli-stack';

/**
 * `iot-provisioner ca create --intermediate-of`: a root, an intermediate under it and a third level under
 * that, made by the CLI; the signing CA alone registered (as AWS IoT wants it, device-certs-your-own.html),
 * devices issued from it and admitted by JITR over real MQTT/TLS with `device connect`.
 */

let stack: CliStack;
const dirOf = (name: string) => join(stack.dir, name);
const read = (dir: string, file: string) => readFileSync(join(dirOf(dir), file), 'utf8');
const certificatesOf = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
const idOf = (certificate: X509Certificate) => certificate.fingerprint256.replace(/:/g, '').toLowerCase();
const registeredCa = async (certificateId: string) =>
  (await stack.iot.send(new DescribeCACertificateCommand({ certificateId })).catch(() => undefined))?.certificateDescription;

beforeAll(async () => {
  stack = await startCliStack();
});

afterAll(async () => {
  await stack.close();
});

describe('ca create --intermediate-of', () => {
  it('makes a signing CA under a root, and a third level under that, each in its own directory with the CAs above it', async () => {
    expect((await stack.cli('ca', 'create', '--out', dirOf('root'), '--name', 'CliHierarchyRoot')).code).toBe(0);

    const level1 = await stack.cli('ca', 'create', '--intermediate-of', dirOf('root'), '--out', dirOf('issuing-1'), '--name', 'CliIssuing1', '--key-type', 'ec-p256');
    const level2 = await stack.cli('ca', 'create', '--intermediate-of', dirOf('issuing-1'), '--out', dirOf('issuing-2'), '--name', 'CliIssuing2');

    expect(level1.code).toBe(0);
    expect(level2.code).toBe(0);
    expect(level2.out).toMatch(/created intermediate CA "CliIssuing2" \(RSA 2048\) under CN=CliIssuing1, 3 levels/);
    expect(level2.out).toContain('register this signing CA, not the CAs above it');
    const [root] = certificatesOf(read('root', 'rootCA.pem'));
    const [issuing1] = certificatesOf(read('issuing-1', 'intermediateCA.pem'));
    const [issuing2] = certificatesOf(read('issuing-2', 'intermediateCA.pem'));
    expect(issuing1!.ca && issuing2!.ca).toBe(true);
    expect(issuing1!.checkIssued(root!) && issuing1!.verify(root!.publicKey)).toBe(true);
    expect(issuing2!.checkIssued(issuing1!) && issuing2!.verify(issuing1!.publicKey)).toBe(true);
    expect(certificatesOf(read('issuing-1', 'intermediateCA-chain.pem')).map(idOf)).toEqual([idOf(root!)]);
    expect(certificatesOf(read('issuing-2', 'intermediateCA-chain.pem')).map(idOf)).toEqual([idOf(issuing1!), idOf(root!)]);
    expect(statSync(join(dirOf('issuing-2'), 'intermediateCA.key')).mode & 0o777).toBe(0o600);
    expect(level2.out).toContain(`CA certificate id (AWS IoT's id once registered): ${idOf(issuing2!)}`);
    expect(`${level2.out}\n${level2.err}`).not.toMatch(/PRIVATE KEY/);
  });

  it('registers the signing CA alone, issues a device from it, and the device gets in by JITR over MQTT/TLS', async () => {
    const [root] = certificatesOf(read('root', 'rootCA.pem'));
    const [issuing2] = certificatesOf(read('issuing-2', 'intermediateCA.pem'));
    const [issuing1] = certificatesOf(read('issuing-1', 'intermediateCA.pem'));
    expect((await stack.cli('ca', 'register', '--mode', 'sni-only', '--ca-dir', dirOf('issuing-2'), ...stack.local)).code).toBe(0);
    expect(await registeredCa(idOf(issuing2!))).toMatchObject({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' });
    expect(await registeredCa(idOf(root!))).toBeUndefined();

    const issued = await stack.cli('device', 'issue', 'CLI-HIER-1', '--ca-dir', dirOf('issuing-2'), '--out', dirOf('devices'));
    expect(issued.code).toBe(0);
    // The chain the device presents: its certificate, then the intermediates up to the root (not the root).
    const chain = certificatesOf(read('devices', 'CLI-HIER-1AndCA.crt'));
    expect(chain.slice(1).map(idOf)).toEqual([idOf(issuing2!), idOf(issuing1!)]);
    expect(chain[0]!.verify(issuing2!.publicKey)).toBe(true);

    expect((await stack.cli('devices', 'allow', 'CLI-HIER-1', ...stack.local)).code).toBe(0);
    const connected = await stack.cli('device', 'connect', 'CLI-HIER-1', '--dir', dirOf('devices'), '--timeout', '30', ...stack.local);

    expect(connected.code).toBe(0);
    expect(connected.err).toMatch(/attempt 1: refused/);
    expect(connected.out).toContain('published');
    const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId: idOf(chain[0]!) }));
    expect(certificateDescription).toMatchObject({ status: 'ACTIVE', caCertificateId: idOf(issuing2!) });
  });

  it.each<[string, () => string[], RegExp]>([
    ['a parent directory without a CA', () => ['--intermediate-of', dirOf('nowhere'), '--out', dirOf('x')], /CA certificate not found: .*rootCA\.pem[\s\S]*ca create/],
    ['--out the parent’s own directory', () => ['--intermediate-of', dirOf('root'), '--out', dirOf('root')], /--out must be another directory than --intermediate-of/],
    ['an existing intermediate without --force', () => ['--intermediate-of', dirOf('root'), '--out', dirOf('issuing-1')], /already exist.*--force/],
  ])('refuses %s with exit code 2, writing nothing', async (_label, args, message) => {
    const result = await stack.cli('ca', 'create', ...args());
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });

  it('refuses a --ca-dir that holds both a root and an intermediate, and a chain file that does not lead up from its CA', async () => {
    mkdirSync(dirOf('both'), { recursive: true });
    writeFileSync(join(dirOf('both'), 'rootCA.pem'), read('root', 'rootCA.pem'));
    writeFileSync(join(dirOf('both'), 'intermediateCA.pem'), read('issuing-1', 'intermediateCA.pem'));
    const both = await stack.cli('device', 'issue', 'CLI-HIER-2', '--ca-dir', dirOf('both'), '--out', dirOf('devices'));
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/holds both rootCA\.pem and intermediateCA\.pem/);

    mkdirSync(dirOf('bad-chain'), { recursive: true });
    for (const file of ['intermediateCA.pem', 'intermediateCA.key']) writeFileSync(join(dirOf('bad-chain'), file), read('issuing-2', file), { mode: 0o600 });
    writeFileSync(join(dirOf('bad-chain'), 'intermediateCA-chain.pem'), read('root', 'rootCA.pem'));
    const bad = await stack.cli('device', 'issue', 'CLI-HIER-3', '--ca-dir', dirOf('bad-chain'), '--out', dirOf('devices'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/does not lead up from .*intermediateCA\.pem: CN=CliHierarchyRoot did not issue CN=CliIssuing2/);
  });
});
