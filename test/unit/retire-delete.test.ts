import { ConfigurationError, loadRetirementConfig, loadRotationEventsConfig } from '../../shared/config';
import { retireRotatedCertificate, RetiredCertificateStillAttachedError } from '../../shared/provisioning/vend-certificate';
import type { SettableCertificateStatus } from '../../shared/provisioning/iot-ports';

/**
 * The retireDelete option of retireCertificate: after INACTIVE, DetachPolicy then DeleteCertificate. The fake
 * IoT refuses a deletion as AWS does: "A certificate cannot be deleted if it has a policy or IoT thing attached to
 * it or if its status is set to ACTIVE" (API_DeleteCertificate); forceDelete (the adapter's) takes policies, never
 * a thing.
 */

const OLD = 'a'.repeat(64);
const CURRENT = 'c'.repeat(64);
const arn = (id: string) => `arn:aws:iot:us-east-1:123456789012:cert/${id}`;
const POLICY = 'iot-provisioner-dev-device';

function world(options: { detachLags?: boolean; status?: SettableCertificateStatus } = {}) {
  const cert = { status: (options.status ?? 'ACTIVE') as SettableCertificateStatus, things: new Set(['dev-1']), policies: new Set([POLICY]), deleted: false };
  const calls: string[] = [];
  let lag = options.detachLags === true;
  const iot = {
    describeCertificate: async (id: string) =>
      id === OLD && !cert.deleted ? { certificateId: id, certificateArn: arn(id), caCertificateId: undefined, status: cert.status, certificatePem: 'pem' } : undefined,
    updateCertificateStatus: async (_id: string, status: SettableCertificateStatus) => void (calls.push(`UpdateCertificate ${status}`), (cert.status = status)),
    listPrincipalThings: async () => [...cert.things],
    detachThingPrincipal: async (thing: string) => {
      calls.push('DetachThingPrincipal');
      // A detach propagates in seconds (aws-iot-reference §4): the first deletion may still see the thing.
      if (!lag) cert.things.delete(thing);
    },
  };
  const deletion = {
    policyName: POLICY,
    iot: {
      detachPolicy: async (policy: string) => void (calls.push(`DetachPolicy ${policy}`), cert.policies.delete(policy)),
      deleteCertificate: async () => {
        calls.push('DeleteCertificate');
        if (cert.status === 'ACTIVE') throw new Error('CertificateStateException');
        if (cert.things.size > 0) {
          lag = false;
          cert.things.clear();
          return 'things-attached' as const;
        }
        cert.deleted = true;
        return 'deleted' as const;
      },
    },
  };
  const registry = { get: async () => ({ deviceId: 'dev-1', certificateId: CURRENT }) as never };
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  return { cert, calls, deps: { iot, registry, log, deletion }, plain: { iot, registry, log } };
}

const retirement = { deviceId: 'dev-1', certificateId: OLD, thingName: 'dev-1' };

describe('retireCertificate with retireDelete', () => {
  it('detaches, sets INACTIVE, then detaches the policy and deletes the certificate, in that order', async () => {
    const w = world();

    await retireRotatedCertificate(retirement, w.deps);

    expect(w.calls).toEqual(['DetachThingPrincipal', 'UpdateCertificate INACTIVE', `DetachPolicy ${POLICY}`, 'DeleteCertificate']);
    expect(w.cert.deleted).toBe(true);
  });

  it('keeps the certificate INACTIVE without the option', async () => {
    const w = world();

    await retireRotatedCertificate(retirement, w.plain);

    expect(w.calls).toEqual(['DetachThingPrincipal', 'UpdateCertificate INACTIVE']);
    expect(w.cert).toMatchObject({ deleted: false, status: 'INACTIVE' });
  });

  it('throws while the detach has not propagated (SQS delivers it again), then deletes on the retry', async () => {
    const w = world({ detachLags: true });

    await expect(retireRotatedCertificate(retirement, w.deps)).rejects.toThrow(RetiredCertificateStillAttachedError);
    expect(w.cert.deleted).toBe(false);
    await retireRotatedCertificate(retirement, w.deps);

    expect(w.cert.deleted).toBe(true);
  });

  it('is done when a retry finds the certificate gone', async () => {
    const w = world();
    await retireRotatedCertificate(retirement, w.deps);
    const calls = w.calls.length;

    await retireRotatedCertificate(retirement, w.deps);

    expect(w.calls.slice(calls)).toEqual([]);
  });

  it('never deletes the device’s current certificate', async () => {
    const w = world();

    await retireRotatedCertificate({ ...retirement, certificateId: CURRENT }, { ...w.deps, registry: { get: async () => ({ deviceId: 'dev-1', certificateId: CURRENT }) as never } });

    expect(w.calls).toEqual([]);
  });
});

describe('loadRetirementConfig', () => {
  it.each([
    [{}, undefined],
    [{ RETIRE_DELETE: '' }, undefined],
    [{ RETIRE_DELETE: 'false', DEVICE_POLICY_NAME: POLICY }, undefined],
    [{ RETIRE_DELETE: 'true', DEVICE_POLICY_NAME: POLICY }, { policyName: POLICY }],
  ])('reads %j', (env, deletion) => {
    expect(loadRetirementConfig({ DEVICE_REGISTRY_TABLE: 'devices', ...env }).deletion).toEqual(deletion);
  });

  it.each([{ RETIRE_DELETE: 'yes' }, { RETIRE_DELETE: 'true' }, { RETIRE_DELETE: 'true', DEVICE_POLICY_NAME: ' ' }])('refuses %j with the variable named', (env) => {
    expect(() => loadRetirementConfig({ DEVICE_REGISTRY_TABLE: 'devices', ...env })).toThrow(ConfigurationError);
    expect(() => loadRetirementConfig({ DEVICE_REGISTRY_TABLE: 'devices', ...env })).toThrow(/RETIRE_DELETE|DEVICE_POLICY_NAME/);
  });
});

describe('loadRotationEventsConfig', () => {
  const env = { DEVICE_REGISTRY_TABLE: 'devices', DEVICE_TIMELINE_TABLE: 'timeline', RETIREMENT_QUEUE_NAME: 'iot-provisioner-dev-retirements' };

  it('defaults the grace to 300 s', () => {
    expect(loadRotationEventsConfig(env)).toEqual({ registryTable: 'devices', timelineTable: 'timeline', retirementQueueName: env.RETIREMENT_QUEUE_NAME, retireGraceSeconds: 300 });
  });

  it.each(['901', '-1', 'soon'])('refuses RETIRE_GRACE_SECONDS=%s', (grace) => {
    expect(() => loadRotationEventsConfig({ ...env, RETIRE_GRACE_SECONDS: grace })).toThrow(/RETIRE_GRACE_SECONDS/);
  });
});
