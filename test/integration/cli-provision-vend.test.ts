import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateProvisioningClaimCommand, DescribeCertificateCommand, DescribeThingCommand, ListCertificatesCommand } from '@aws-sdk/client-iot';
import { createCa, createCsr } from '../../lib/pki';
import { startCliStack, type CliStack } from '../support/cli-stack';

/**
 * `iot-provisioner device provision` (fleet provisioning by claim over MQTT) and `vend` (the IAM-authorized
 * vending API, SigV4-signed) against the local IoT Core with the stack deployed: the files written, what
 * AWS IoT holds afterwards, and every refusal in words an operator can act on.
 */

let stack: CliStack;

const mode = (path: string) => statSync(path).mode & 0o777;
const statusOf = async (certificateId: string) => (await stack.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;
const certificateCount = async () => (await stack.iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.length ?? 0;
const idOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256.replace(/:/g, '').toLowerCase();
const allow = async (deviceId: string) => expect((await stack.cli('devices', 'allow', deviceId, ...stack.local)).code).toBe(0);

/** A claim as seed 004 downloads it: claimCert.pem and claimPrivateKey.pem. */
async function claimFiles(name: string): Promise<string[]> {
  const claim = await stack.iot.send(new CreateProvisioningClaimCommand({ templateName: stack.deployed.templateName }));
  const cert = join(stack.dir, `${name}-claimCert.pem`);
  const key = join(stack.dir, `${name}-claimPrivateKey.pem`);
  writeFileSync(cert, claim.certificatePem!);
  writeFileSync(key, claim.keyPair!.PrivateKey!, { mode: 0o600 });
  return ['--claim', cert, '--claim-key', key];
}

beforeAll(async () => {
  stack = await startCliStack();
});

afterAll(async () => {
  await stack.close();
});

describe('device provision', () => {
  it('provisions by claim with CreateKeysAndCertificate: writes <serial>.crt and <serial>.key (0600); the device then connects', async () => {
    await allow('FLEET-CLI-1');
    const out = join(stack.dir, 'fleet');

    const provisioned = await stack.cli('device', 'provision', ...(await claimFiles('a')), '--parameter', 'SerialNumber=FLEET-CLI-1', '--out', out, ...stack.local);

    expect(provisioned.code).toBe(0);
    expect(provisioned.out).toContain(`provisioned thing FLEET-CLI-1 with template ${stack.deployed.templateName}`);
    expect(`${provisioned.out}\n${provisioned.err}`).not.toMatch(/PRIVATE KEY/);
    const crt = join(out, 'FLEET-CLI-1.crt');
    const key = join(out, 'FLEET-CLI-1.key');
    expect(mode(key)).toBe(0o600);
    expect(new X509Certificate(readFileSync(crt)).checkPrivateKey(createPrivateKey(readFileSync(key)))).toBe(true);
    expect(await statusOf(idOf(crt))).toBe('ACTIVE');
    expect((await stack.iot.send(new DescribeThingCommand({ thingName: 'FLEET-CLI-1' }))).thingName).toBe('FLEET-CLI-1');

    const connected = await stack.cli('device', 'connect', 'FLEET-CLI-1', '--cert', crt, '--key', key, ...stack.local);
    expect(connected.code).toBe(0);
    expect(connected.out).toContain('connected as FLEET-CLI-1 after 1 attempt');
  });

  it('provisions with --csr (CreateCertificateFromCsr): writes the certificate only; the key never left', async () => {
    await allow('FLEET-CLI-2');
    const csr = await createCsr({ commonName: 'FLEET-CLI-2' }, 'ec-p256');
    const csrFile = join(stack.dir, 'FLEET-CLI-2.csr');
    writeFileSync(csrFile, csr.csrPem);
    const out = join(stack.dir, 'fleet-csr');

    const provisioned = await stack.cli('device', 'provision', ...(await claimFiles('b')), '--csr', csrFile, '--parameter', 'SerialNumber=FLEET-CLI-2', '--out', out, ...stack.local);

    expect(provisioned.code).toBe(0);
    expect(existsSync(join(out, 'FLEET-CLI-2.key'))).toBe(false);
    const certificate = new X509Certificate(readFileSync(join(out, 'FLEET-CLI-2.crt')));
    expect(certificate.publicKey.export({ format: 'pem', type: 'spki' })).toBe(createPublicKey(csr.privateKeyPem).export({ format: 'pem', type: 'spki' }));
    expect(await statusOf(idOf(join(out, 'FLEET-CLI-2.crt')))).toBe('ACTIVE');
  });

  it('reports the pre-provisioning hook’s refusal with its reason, and writes nothing', async () => {
    const out = join(stack.dir, 'fleet-refused');
    const refused = await stack.cli('device', 'provision', ...(await claimFiles('c')), '--parameter', 'SerialNumber=FLEET-CLI-UNKNOWN', '--out', out, ...stack.local);

    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/RegisterThing \(template .+\) was rejected: AccessDenied/);
    expect(refused.err).toMatch(/device-not-allowlisted|devices show FLEET-CLI-UNKNOWN/);
    expect(existsSync(join(out, 'FLEET-CLI-UNKNOWN.crt'))).toBe(false);
  });

  it.each([
    [['--parameter', 'SerialNumber=X'], /--claim <claim certificate PEM> and --claim-key/],
    [['--claim', 'c.pem', '--claim-key', 'k.pem'], /--name <name>, or pass --parameter SerialNumber=/],
    [['--claim', 'c.pem', '--claim-key', 'k.pem', '--parameter', 'novalue'], /--parameter expects name=value/],
    [['--claim', 'missing.pem', '--claim-key', 'k.pem', '--parameter', 'SerialNumber=X'], /claim certificate not found: missing\.pem/],
  ])('refuses %j with exit code 2', async (args, message) => {
    const result = await stack.cli('device', 'provision', ...args, ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });
});

describe('vend', () => {
  const out = () => join(stack.dir, 'vended');

  it('vends a generated key and certificate: files written (key 0600, never printed), certificate ACTIVE, and the device connects with them', async () => {
    await allow('VEND-CLI-1');

    const vended = await stack.cli('vend', 'VEND-CLI-1', '--out', out(), ...stack.local);

    expect(vended.code).toBe(0);
    expect(`${vended.out}\n${vended.err}`).not.toMatch(/PRIVATE KEY/);
    const crt = join(out(), 'VEND-CLI-1.crt');
    const key = join(out(), 'VEND-CLI-1.key');
    expect(mode(key)).toBe(0o600);
    expect(new X509Certificate(readFileSync(crt)).checkPrivateKey(createPrivateKey(readFileSync(key)))).toBe(true);
    expect(vended.out).toContain(`vended certificate ${idOf(crt)} for VEND-CLI-1 (thing VEND-CLI-1)`);
    expect(vended.out).toContain(`role alias            ${stack.deployed.roleAlias}`);
    expect(await statusOf(idOf(crt))).toBe('ACTIVE');

    const connected = await stack.cli('device', 'connect', 'VEND-CLI-1', '--cert', crt, '--key', key, ...stack.local);
    expect(connected.code).toBe(0);
  });

  it('refuses before asking when the key file exists (no --force): nothing is minted', async () => {
    const before = await certificateCount();
    const result = await stack.cli('vend', 'VEND-CLI-1', '--out', out(), ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/VEND-CLI-1\.(crt|key).* already exist.*--force/);
    expect(await certificateCount()).toBe(before);
  });

  it('answers a second certificate for a bound device with the 409 and what to do; --rotate then replaces it', async () => {
    const first = idOf(join(out(), 'VEND-CLI-1.crt'));
    const conflict = await stack.cli('vend', 'VEND-CLI-1', '--out', out(), '--force', ...stack.local);
    expect(conflict.code).toBe(1);
    expect(conflict.err).toMatch(/already has an ACTIVE certificate \(409\): pass --rotate/);
    expect(idOf(join(out(), 'VEND-CLI-1.crt'))).toBe(first);

    const rotated = await stack.cli('vend', 'VEND-CLI-1', '--rotate', '--out', out(), '--force', ...stack.local);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toContain(`previous certificate ${first} is retired at`);
    const second = idOf(join(out(), 'VEND-CLI-1.crt'));
    expect(second).not.toBe(first);
    expect(await statusOf(second)).toBe('ACTIVE');
  });

  it('signs a CSR: only the certificate is written, for the CSR’s key', async () => {
    await allow('VEND-CLI-2');
    const csr = await createCsr({ serialNumber: 'VEND-CLI-2' }, 'ec-p256');
    const csrFile = join(stack.dir, 'VEND-CLI-2.csr');
    writeFileSync(csrFile, csr.csrPem);

    const vended = await stack.cli('vend', 'VEND-CLI-2', '--csr', csrFile, '--out', out(), ...stack.local);

    expect(vended.code).toBe(0);
    expect(existsSync(join(out(), 'VEND-CLI-2.key'))).toBe(false);
    expect(new X509Certificate(readFileSync(join(out(), 'VEND-CLI-2.crt'))).publicKey.export({ format: 'pem', type: 'spki' })).toBe(
      createPublicKey(csr.privateKeyPem).export({ format: 'pem', type: 'spki' }),
    );
    expect(vended.out).toContain('<the key of your CSR>');
  });

  it('replays the stored answer for the same --idempotency-key instead of minting again', async () => {
    await allow('VEND-CLI-3');
    const dir = join(stack.dir, 'vended-idem');
    const first = await stack.cli('vend', 'VEND-CLI-3', '--idempotency-key', 'cli-test-key-0001', '--out', dir, ...stack.local);
    expect(first.code).toBe(0);
    const firstId = idOf(join(dir, 'VEND-CLI-3.crt'));
    const before = await certificateCount();

    const again = await stack.cli('vend', 'VEND-CLI-3', '--idempotency-key', 'cli-test-key-0001', '--out', dir, '--force', ...stack.local);

    expect(again.code).toBe(0);
    expect(again.out).toContain('the stored answer to the earlier request with this Idempotency-Key');
    expect(idOf(join(dir, 'VEND-CLI-3.crt'))).toBe(firstId);
    expect(await certificateCount()).toBe(before);
  });

  it('revokes: the certificate is REVOKED; revoking again says there is nothing to revoke', async () => {
    const current = idOf(join(out(), 'VEND-CLI-1.crt'));
    const revoked = await stack.cli('vend', 'VEND-CLI-1', '--revoke', ...stack.local);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toContain(`revoked certificate ${current} of VEND-CLI-1`);
    expect(await statusOf(current)).toBe('REVOKED');

    const again = await stack.cli('vend', 'VEND-CLI-1', '--revoke', ...stack.local);
    expect(again.code).toBe(1);
    expect(again.err).toContain('VEND-CLI-1 has no certificate to revoke (404)');
  });

  it('explains a device that is not allow-listed (403)', async () => {
    const refused = await stack.cli('vend', 'VEND-CLI-UNKNOWN', '--out', out(), ...stack.local);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('VEND-CLI-UNKNOWN is not allow-listed (403); allow it first: iot-provisioner devices allow VEND-CLI-UNKNOWN');
    expect(existsSync(join(out(), 'VEND-CLI-UNKNOWN.key'))).toBe(false);
  });

  it('explains a 400 with its issues', async () => {
    await allow('VEND-CLI-4');
    const csr = await createCsr({ serialNumber: 'SOMEONE-ELSE' }, 'ec-p256');
    const csrFile = join(stack.dir, 'someone-else.csr');
    writeFileSync(csrFile, csr.csrPem);
    const refused = await stack.cli('vend', 'VEND-CLI-4', '--csr', csrFile, '--out', out(), ...stack.local);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused \(400 csr-subject-mismatch\):\n {2}csr: the subject must name the device VEND-CLI-4/);
  });

  describe('on AWS (--api-url, credentials from the default provider chain)', () => {
    let saved: NodeJS.ProcessEnv;
    beforeEach(() => {
      saved = { ...process.env };
      delete process.env.AWS_PROFILE;
      Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: stack.core.endpoints.accountId });
    });
    afterEach(() => {
      process.env = saved;
    });

    it('signs with the environment’s credentials: a wrong secret key is refused by IAM, with what to check', async () => {
      process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
      const refused = await stack.cli('vend', 'VEND-CLI-5', '--api-url', stack.core.endpoints.http!, '--out', out());
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/IAM refused the request \(403: The request signature we calculated does not match.*execute-api:Invoke/);
    });

    it('signs with the environment’s credentials: the right ones are accepted', async () => {
      await allow('VEND-CLI-5');
      // `devices allow --local` pointed the environment at the local IoT Core; this command uses it as AWS.
      process.env.AWS_SECRET_ACCESS_KEY = 'local';
      const vended = await stack.cli('vend', 'VEND-CLI-5', '--api-url', stack.core.endpoints.http!, '--out', out());
      expect(vended.code).toBe(0);
      expect(existsSync(join(out(), 'VEND-CLI-5.key'))).toBe(true);
    });

    it('retries a 500 with the same Idempotency-Key, each request SigV4-signed for execute-api', async () => {
      process.env.AWS_SECRET_ACCESS_KEY = 'local';
      const stand = await createCa({ commonName: 'stand-in certificate' });
      const seen: Array<{ method?: string; url?: string; key?: string; authorization?: string }> = [];
      const server = createServer((request, response) => {
        seen.push({ method: request.method, url: request.url, key: String(request.headers['idempotency-key']), authorization: String(request.headers.authorization) });
        response.writeHead(seen.length === 1 ? 500 : 201, { 'content-type': 'application/json' });
        response.end(
          seen.length === 1
            ? JSON.stringify({ message: 'Internal error' })
            : JSON.stringify({ deviceId: 'STUB-1', thingName: 'STUB-1', certificateId: stand.certificateId, certificateArn: 'arn:aws:iot:us-east-1:123456789012:cert/x', certificatePem: stand.certificatePem, privateKey: stand.privateKeyPem }),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const result = await stack.cli('vend', 'STUB-1', '--api-url', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, '--out', out());

        expect(result.code).toBe(0);
        expect(result.err).toMatch(/500; retrying in 1 s with the same key/);
        expect(seen).toHaveLength(2);
        expect(seen[0]).toMatchObject({ method: 'POST', url: '/devices/STUB-1/certificate' });
        expect(seen[1]!.key).toBe(seen[0]!.key);
        for (const request of seen) expect(request.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=123456789012\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host/);
      } finally {
        server.close();
      }
    });

    it('without --api-url, says where the URL comes from', async () => {
      const result = await stack.cli('vend', 'VEND-CLI-6', '--stage', 'prod');
      expect(result.code).toBe(2);
      expect(result.err).toMatch(/pass --api-url: the stack's HttpApiUrl output .*serverless info --stage prod/);
    });
  });

  it.each([
    [['vend'], /missing argument\nusage: iot-provisioner vend <deviceId>/],
    [['vend', 'X', '--revoke', '--rotate'], /--revoke takes none of/],
    [['vend', 'X', '--idempotency-key', 'short'], /--idempotency-key must be 8-128/],
    [['vend', 'X', '--csr', 'nowhere.csr'], /CSR not found: nowhere\.csr/],
  ])('refuses %j with exit code 2', async (args, message) => {
    const result = await stack.cli(...args, ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });
});
