import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createCsr, type KeySpec } from '../../lib/pki';
import { csrFor } from '../../device/rotation-agent';
import { issueRotationCertificate } from '../../shared/rotation/issue';
import type { RotationCsrEvent } from '../../shared/schemas/rotation-csr-event';
import { rotationCsrEventSchema } from '../../shared/schemas/rotation-csr-event';
import { loadEvent } from '../support/fixtures';
import { recordingMetrics } from '../support/recording-metrics';
import { POLICY, RotationIssueWorld } from '../support/rotation-issue-world';

/** The rotation's CSR step (shared/rotation/issue.ts; docs/rotation-design.md §1 S1) against an in-memory AWS IoT and registry. */

const THING = 'sensor-7';
const JOB = 'rotate-2026-12-1';
const TOKEN = '0b7c2f7e-1111-4c1e-9f00-2a6b5d1c0001';

let world: RotationIssueWorld;

beforeEach(async () => {
  world = await RotationIssueWorld.create();
});

/** The rule's event for a CSR published over the device's current connection (rules.ts adds the fields). */
function csrEvent(csr: unknown, overrides: Partial<RotationCsrEvent> = {}): RotationCsrEvent {
  const certificateId = world.entries.get(THING)?.certificateId;
  return { jobId: JOB, clientToken: TOKEN, csr, thingName: THING, clientId: THING, ...(certificateId ? { principal: certificateId } : {}), ...overrides };
}

async function newCsr(keySpec: KeySpec = 'ec-p256', subject: { commonName?: string; serialNumber?: string } = { commonName: THING, serialNumber: THING }) {
  return createCsr(subject, keySpec);
}

const createdCount = () => world.calls.filter((c) => c === 'CreateCertificateFromCsr').length;

describe('rotation CSR step: admission', () => {
  it('refuses a CSR with the key of the current certificate (key-reused), and makes no certificate', async () => {
    const device = await world.boundDevice(THING);
    const result = await issueRotationCertificate(csrEvent(await csrFor(device.privateKeyPem, THING)), world.deps());
    expect(result).toEqual({ outcome: 'refused', reason: 'key-reused', recorded: true });
    expect(createdCount()).toBe(0);
    expect(world.answers).toEqual([{ thingName: THING, answer: { jobId: JOB, clientToken: TOKEN, error: { reason: 'key-reused', message: expect.any(String) } } }]);
    expect(world.entries.get(THING)!.rotation).toMatchObject({ state: 'refused', reason: 'key-reused' });
    expect([...world.timeline.values()].map((e) => [e.type, e.reason])).toEqual([['rotation-refused', 'key-reused']]);
  });

  it.each([
    ['another device’s subject', { commonName: 'sensor-8', serialNumber: 'sensor-8' }],
    ['a CN without serialNumber', { commonName: THING }],
    ['CN and serialNumber that disagree', { commonName: THING, serialNumber: 'sensor-8' }],
  ])('refuses %s (subject-mismatch), and makes no certificate', async (_name, subject) => {
    await world.boundDevice(THING);
    const { csrPem } = await newCsr('ec-p256', subject);
    expect(await issueRotationCertificate(csrEvent(csrPem), world.deps())).toMatchObject({ outcome: 'refused', reason: 'subject-mismatch' });
    expect(createdCount()).toBe(0);
  });

  // P-192 cannot be made by WebCrypto (the CSR tooling); P-521 is the EC curve it can make that the rules refuse.
  it.each<KeySpec>(['rsa-1024', 'ec-p521'])('refuses a %s key (weak-key), and makes no certificate', async (keySpec) => {
    await world.boundDevice(THING);
    const { csrPem } = await newCsr(keySpec);
    expect(await issueRotationCertificate(csrEvent(csrPem), world.deps())).toMatchObject({ outcome: 'refused', reason: 'weak-key' });
    expect(createdCount()).toBe(0);
  });

  it.each([
    ['not a string', 42],
    ['not a PEM', 'hello'],
    ['a PEM whose body is not a CSR', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'],
  ])('refuses a CSR that is %s (malformed-csr)', async (_name, csr) => {
    await world.boundDevice(THING);
    expect(await issueRotationCertificate(csrEvent(csr), world.deps())).toMatchObject({ outcome: 'refused', reason: 'malformed-csr' });
    expect(createdCount()).toBe(0);
  });

  it('refuses a CSR whose signature does not verify (malformed-csr)', async () => {
    await world.boundDevice(THING);
    const { csrPem } = await newCsr();
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5]! ^= 0xff;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await issueRotationCertificate(csrEvent(tampered), world.deps())).toMatchObject({ outcome: 'refused', reason: 'malformed-csr' });
  });

  it.each([
    ['suspended', { status: 'suspended' }, 'suspended'],
    ['retired', { status: 'retired' }, 'retired'],
    ['blocked', { status: 'blocked' }, 'not-bound'],
    ['claimed, not bound', { bindingState: 'claimed' }, 'not-bound'],
    ['bound to another thing name', { thingName: 'sensor-8' }, 'not-bound'],
  ] as const)('refuses a device that is %s, and makes no certificate', async (_name, entry, reason) => {
    await world.boundDevice(THING, { entry: entry as never });
    const { csrPem } = await newCsr();
    const result = await issueRotationCertificate(csrEvent(csrPem), world.deps());
    expect(result).toEqual({ outcome: 'refused', reason, recorded: false });
    expect(createdCount()).toBe(0);
    // The rotation is not closed by a requester that is not proven to be the device.
    expect(world.entries.get(THING)!.rotation!.state).toBe('queued');
  });

  it('refuses a thing the registry does not know (not-bound)', async () => {
    const { csrPem } = await newCsr();
    expect(await issueRotationCertificate(csrEvent(csrPem), world.deps())).toMatchObject({ outcome: 'refused', reason: 'not-bound' });
    expect(createdCount()).toBe(0);
  });

  it.each([
    ['another certificate’s connection', { principal: 'f'.repeat(64) }],
    ['no device connection (no principal)', { principal: undefined }],
    ['a client id other than the thing', { clientId: 'sensor-8' }],
  ])('refuses a CSR from %s (not-bound)', async (_name, overrides) => {
    await world.boundDevice(THING);
    const { csrPem } = await newCsr();
    const event = csrEvent(csrPem, overrides as Partial<RotationCsrEvent>);
    if ('principal' in overrides && overrides.principal === undefined) delete event.principal;
    expect(await issueRotationCertificate(event, world.deps())).toMatchObject({ outcome: 'refused', reason: 'not-bound', recorded: false });
    expect(createdCount()).toBe(0);
  });

  it.each([
    ['no rotation in the registry', { rotation: null }],
    ['a rotation of another job', { rotation: { jobId: 'rotate-2026-11-9' } }],
    ['a committed rotation', { rotation: { state: 'committed' } }],
    ['an execution that is QUEUED', { execution: 'QUEUED' }],
    ['an execution that TIMED_OUT', { execution: 'TIMED_OUT' }],
  ] as const)('refuses a CSR with %s (no-rotation)', async (_name, options) => {
    await world.boundDevice(THING, options as never);
    const { csrPem } = await newCsr();
    expect(await issueRotationCertificate(csrEvent(csrPem), world.deps())).toMatchObject({ outcome: 'refused', reason: 'no-rotation' });
    expect(createdCount()).toBe(0);
  });

  it('refuses a job that is not a rotation job without asking for its execution (no-rotation)', async () => {
    await world.boundDevice(THING, { jobId: 'reboot-1' });
    const { csrPem } = await newCsr();
    expect(await issueRotationCertificate(csrEvent(csrPem, { jobId: 'reboot-1' }), world.deps())).toMatchObject({ outcome: 'refused', reason: 'no-rotation' });
  });
});

describe('rotation CSR step: issuing', () => {
  it('issues an ACTIVE certificate for the new key, attached to the thing and the policy, keeps the old one, and answers it', async () => {
    const device = await world.boundDevice(THING, { entry: { pinnedKeySha256: 'a'.repeat(64) } });
    const { csrPem, privateKeyPem } = await newCsr();
    const result = await issueRotationCertificate(csrEvent(csrPem), world.deps());

    expect(result).toMatchObject({ outcome: 'issued', resent: false });
    const newId = (result as { certificateId: string }).certificateId;
    const issued = world.certificates.get(newId)!;
    expect(issued).toMatchObject({ status: 'ACTIVE', policies: new Set([POLICY]), things: new Set([THING]) });
    expect(new X509Certificate(issued.certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem))).toBe(true);
    expect(world.certificates.get(device.certificateId)).toMatchObject({ status: 'ACTIVE', things: new Set([THING]) });
    // Activation last, then the state, then the answer.
    expect(world.calls).toEqual(['beginIssue', 'CreateCertificateFromCsr', 'recordNewCertificate', 'AttachPolicy', 'AttachThingPrincipal', 'UpdateCertificate', 'markIssued', 'appendTimelineEvent', 'Publish']);
    expect(world.answers).toEqual([{ thingName: THING, answer: { jobId: JOB, clientToken: TOKEN, certificatePem: issued.certificatePem, certificateId: newId } }]);
    const entry = world.entries.get(THING)!;
    // The binding keeps naming the old certificate until the commit (S2).
    expect(entry).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound' });
    expect(entry.rotation).toMatchObject({ state: 'issued', clientToken: TOKEN, newCertificateId: newId, newCertificateArn: issued.certificateArn, previousCertificateId: device.certificateId });
    const events = [...world.timeline.values()];
    expect(events).toEqual([expect.objectContaining({ type: 'rotation-issued', certificateId: newId, key: `${JOB}#issued`, detail: expect.stringMatching(/pinned key moves/) })]);
  });

  it('answers the same CSR twice with one certificate, and a CSR re-sent after issued with the same certificate', async () => {
    await world.boundDevice(THING);
    const { csrPem } = await newCsr();
    const metrics = recordingMetrics();
    const first = await issueRotationCertificate(csrEvent(csrPem), { ...world.deps(), metrics });
    const second = await issueRotationCertificate(csrEvent(csrPem), { ...world.deps(), metrics });
    // One certificate, one `Rotations{issued}`: a re-sent CSR is not counted again.
    expect(metrics.recorded.filter((m) => m.name === 'Rotations').map((m) => m.dimensions)).toEqual([{ outcome: 'issued', reason: 'none' }]);
    expect(second).toEqual({ outcome: 'issued', certificateId: (first as { certificateId: string }).certificateId, resent: true });
    expect(createdCount()).toBe(1);
    expect(world.answers.map((a) => 'certificateId' in a.answer && a.answer.certificateId)).toEqual([(first as { certificateId: string }).certificateId, (first as { certificateId: string }).certificateId]);
    expect([...world.timeline.values()].filter((e) => e.type === 'rotation-issued')).toHaveLength(1);
  });

  it('revokes the certificate it activated when the rotation was rolled back meanwhile (a roll-back racing the CSR step)', async () => {
    await world.boundDevice(THING);
    const markIssued = world.registry.markIssued;
    // The roll-back (S3) lands between this step's activation and its `issued` write.
    world.registry.markIssued = async (deviceId, issued) => {
      const entry = world.entries.get(deviceId)!;
      world.entries.set(deviceId, { ...entry, rotation: { ...entry.rotation!, state: 'rolled-back', reason: 'TIMED_OUT' } });
      return markIssued(deviceId, issued);
    };
    await expect(issueRotationCertificate(csrEvent((await newCsr()).csrPem), world.deps())).rejects.toThrow(/changed before it was issued/);
    const newId = world.entries.get(THING)!.rotation!.newCertificateId!;
    expect(world.certificates.get(newId)!.status).toBe('REVOKED');
    expect(world.answers).toEqual([]);
  });

  it('refuses another key while the rotation is issued (no-rotation), and leaves the issued certificate', async () => {
    await world.boundDevice(THING);
    await issueRotationCertificate(csrEvent((await newCsr()).csrPem), world.deps());
    const other = await issueRotationCertificate(csrEvent((await newCsr()).csrPem), world.deps());
    expect(other).toEqual({ outcome: 'refused', reason: 'no-rotation', recorded: false });
    expect(createdCount()).toBe(1);
    expect(world.entries.get(THING)!.rotation!.state).toBe('issued');
  });

  it('answers a CSR re-sent after a refusal with the recorded reason, and records the refusal once', async () => {
    const device = await world.boundDevice(THING);
    const reused = await csrFor(device.privateKeyPem, THING);
    await issueRotationCertificate(csrEvent(reused), world.deps());
    const again = await issueRotationCertificate(csrEvent((await newCsr()).csrPem), world.deps());
    expect(again).toMatchObject({ outcome: 'refused', reason: 'key-reused' });
    expect(createdCount()).toBe(0);
    expect([...world.timeline.values()].filter((e) => e.type === 'rotation-refused')).toHaveLength(1);
  });
});

describe('the rule’s CSR event', () => {
  it('reads the sample event (events/rotation-csr.json) and refuses events that cannot be answered', () => {
    const event = loadEvent<Record<string, unknown>>('rotation-csr');
    expect(rotationCsrEventSchema.safeParse(event).success).toBe(true);
    for (const key of ['thingName', 'jobId', 'clientToken']) {
      const { [key]: _dropped, ...rest } = structuredClone(event);
      expect(rotationCsrEventSchema.safeParse(rest).success).toBe(false);
    }
  });
});
