import { UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { MemoryFiles, rotationMarkdown, runRotationWave, WorkingCertificateSampler, ROTATION_CALLS } from '../../bench/rotation-wave';
import { bindingQuota } from '../../bench/burst';
import { FILES } from '../../device/rotation-agent';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * `npm run bench`'s rotation wave in miniature (bench/rotation-wave.ts): every device rotates through the real
 * agent and the backend under the default quotas, none is lost, and none is ever without a working
 * certificate — and the sampler that says so does see a device without one.
 */

jest.setTimeout(120_000);

describe('rotation wave', () => {
  it('rotates every device, loses none, and never leaves one without a working certificate', async () => {
    const result = await runRotationWave({ devices: 16, timeScale: 5, concurrency: 4, retireGraceSeconds: 10 });

    expect(result).toMatchObject({ devices: 16, committed: 16, rolledBack: 0, lost: 0, withoutWorkingCertificate: 0, worstSample: 0, agentErrors: 0, inFailureQueue: 0 });
    // The backend's end state: each old certificate retired (INACTIVE) after the grace period, each new one ACTIVE.
    expect(result.retiredOld).toBe(16);
    expect(result.samples).toBeGreaterThan(0);
    expect(result.ratePerSecond).toBeGreaterThan(0);
    expect(result.timeline.reduce((n, s) => n + s.committed, 0)).toBe(16);
    // One new certificate per device, activated, and the old one set INACTIVE: two UpdateCertificate each.
    expect(result.callsByOperation.CreateCertificateFromCsr).toBe(16);
    expect(result.callsByOperation.UpdateCertificate).toBeGreaterThanOrEqual(32);
    const table = rotationMarkdown(result, undefined);
    expect(table).toContain('| **lost** (neither done nor failed with a reason) | **0** |');
    expect(table).toContain('3.33/s (DescribeCertificate, 3 calls per rotated device)');
  });

  it('binds the wave by DescribeCertificate: 10 TPS ÷ 3 calls per rotated device (design §2 as built)', () => {
    const quota = bindingQuota(ROTATION_CALLS);
    expect(quota.operation).toBe('DescribeCertificate');
    expect(quota.perSecond).toBeCloseTo(10 / 3, 5);
  });
});

describe('the working-certificate sampler', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('counts a device whose certificate is revoked, or whose key does not match, and not one whose pair works', async () => {
    const devices = [];
    for (const thing of ['SAMPLE-1', 'SAMPLE-2', 'SAMPLE-3']) {
      const certificate = await stack.device(thing, { registry: 'allow' });
      stack.core.firstConnect(stack.chain(certificate), stack.dataEndpoint);
      await stack.core.idle();
      const files = new MemoryFiles();
      files.files.set(FILES.certificate, stack.chain(certificate));
      files.files.set(FILES.key, certificate.privateKeyPem);
      devices.push({ thingName: thing, files, certificate });
    }
    const sampler = new WorkingCertificateSampler(stack, devices);
    expect(sampler.sample()).toBe(0);

    await stack.iot.send(new UpdateCertificateCommand({ certificateId: devices[0]!.certificate.certificateId, newStatus: 'REVOKED' }));
    devices[1]!.files.files.set(FILES.key, devices[2]!.certificate.privateKeyPem);
    // A key held only as .next (mid-rename) still counts: the device holds it.
    devices[2]!.files.files.set(FILES.nextKey, devices[2]!.certificate.privateKeyPem);
    devices[2]!.files.files.delete(FILES.key);

    expect(sampler.sample()).toBe(2);
    expect([...sampler.without].sort()).toEqual(['SAMPLE-1', 'SAMPLE-2']);
    expect(sampler.worst).toBe(2);
  });
});
