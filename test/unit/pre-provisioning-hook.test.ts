import { decideProvisioning, type HookDeps, type HookSettings } from '../../shared/provisioning/pre-provisioning';
import type { TimelineEvent } from '../../shared/lifecycle/ports';
import type { CertificateRecord } from '../../shared/provisioning/iot-ports';
import type { IssuedClaim, ProvisioningDecision } from '../../shared/provisioning/ledger-ports';
import type { ClaimResult, ProvisioningRecord } from '../../shared/registry/ports';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { loadEvent } from '../support/fixtures';
import { arnOf } from '../support/handlers';
import { recordingMetrics } from '../support/recording-metrics';

/**
 * The pre-provisioning hook's decision, against in-memory stand-ins for the registry, the ledger and IoT:
 * every reason, the overrides, the deadline, failing closed, and the record of each decision.
 */

const TEMPLATE = 'iot-provisioner-test';
const TEMPLATE_ARN = `arn:aws:iot:us-east-1:123456789012:provisioningtemplate/${TEMPLATE}`;

const settings = (overrides: Partial<HookSettings> = {}): HookSettings => ({
  templateName: TEMPLATE,
  mode: 'allowlist',
  requireIssuedClaim: false,
  thingGroup: 'default-fleet',
  thingType: 'default-type',
  attributeNames: ['site'],
  deadlineMs: 1_000,
  staleClaimMs: 120_000,
  ...overrides,
});

class Fakes {
  entries = new Map<string, DeviceEntry>();
  claims = new Map<string, IssuedClaim>();
  certificates = new Map<string, string>();
  decisions: ProvisioningDecision[] = [];
  records: Array<{ deviceId: string; record: ProvisioningRecord }> = [];
  logs: Array<{ level: string; message: string; extra: unknown[] }> = [];
  delayMs = 0;
  failGet = false;
  failRecord = false;
  now = new Date();

  private delay = () => new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());

  deps(s: Partial<HookSettings> = {}): HookDeps {
    const log = (level: string) => (message: string, ...extra: unknown[]) => this.logs.push({ level, message, extra });
    return {
      registry: {
        get: async (deviceId) => {
          await this.delay();
          if (this.failGet) throw new Error('registry unavailable');
          return this.entries.get(deviceId);
        },
        claim: async (deviceId, certificateId, options): Promise<ClaimResult> => {
          const current = this.entries.get(deviceId);
          const ok = options.previousCertificateId ? current?.certificateId === options.previousCertificateId : !current?.certificateId || current.certificateId === certificateId;
          if (!ok) return { claimed: false, current };
          const { reprovision: _, ...rest } = current ?? { deviceId };
          this.entries.set(deviceId, { ...rest, deviceId, certificateId, bindingState: 'claimed', claimedAt: options.at.toISOString() });
          return { claimed: true };
        },
        recordProvisioning: async (deviceId, record) => {
          if (this.failRecord) throw new Error('write failed');
          this.records.push({ deviceId, record });
        },
      },
      ledger: {
        getClaim: async (id) => this.claims.get(id),
        recordDecision: async (decision) => {
          if (this.failRecord) throw new Error('write failed');
          this.decisions.push(decision);
        },
      },
      iot: {
        describeCertificate: async (id): Promise<CertificateRecord | undefined> => {
          const status = this.certificates.get(id);
          return status ? { certificateId: id, certificateArn: arnOf(id), caCertificateId: undefined, status, certificatePem: '' } : undefined;
        },
      },
      settings: settings(s),
      now: () => this.now,
      log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    };
  }
}

let ca: KeyedCertificate;
let device: KeyedCertificate;
let weak: KeyedCertificate;
let fakes: Fakes;

function hookEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...loadEvent('pre-provisioning-hook'),
    certificateId: device.certificateId,
    certificatePem: device.certificatePem,
    templateArn: TEMPLATE_ARN,
    parameters: { SerialNumber: 'FLEET-1' },
    ...overrides,
  };
}

beforeAll(async () => {
  ca = await createCa({ commonName: 'AWS issuer stand-in' });
  device = await issueCertificate(ca, { subject: { commonName: 'AWS IoT Certificate' }, keySpec: 'ec-p256' });
  weak = await issueCertificate(ca, { subject: { commonName: 'AWS IoT Certificate' }, keySpec: 'rsa-1024' });
});

beforeEach(() => {
  fakes = new Fakes();
  fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed', thingGroup: 'site-a', attributes: { site: 'osaka' } });
});

describe('pre-provisioning hook', () => {
  it('allows an allow-listed serial, claims the device, and fixes group, type and attributes from the registry', async () => {
    const result = await decideProvisioning(hookEvent(), fakes.deps());
    expect(result).toEqual({
      allowProvisioning: true,
      parameterOverrides: { ThingGroupName: 'site-a', ThingTypeName: 'default-type', attr_site: 'osaka' },
    });
    expect(fakes.entries.get('FLEET-1')).toMatchObject({ certificateId: device.certificateId, bindingState: 'claimed' });
  });

  it('records every decision: who, which template, which claim, outcome, reason', async () => {
    const claimId = loadEvent<{ claimCertificateId: string }>('pre-provisioning-hook').claimCertificateId;
    fakes.claims.set(claimId, { claimCertificateId: claimId, templateName: TEMPLATE, requestedBy: { sub: 'u-1', username: 'alice' }, issuedAt: new Date(), expiresAt: new Date() });
    await decideProvisioning(hookEvent(), fakes.deps());
    expect(fakes.decisions).toEqual([
      expect.objectContaining({ outcome: 'allowed', templateName: TEMPLATE, claimCertificateId: claimId, deviceId: 'FLEET-1', requestedBy: { sub: 'u-1', username: 'alice' } }),
    ]);
    expect(fakes.records[0]).toMatchObject({ deviceId: 'FLEET-1', record: { outcome: 'allowed', clientId: expect.any(String) } });
  });

  it('allows the device a claim was vended for', async () => {
    const claimId = loadEvent<{ claimCertificateId: string }>('pre-provisioning-hook').claimCertificateId;
    fakes.claims.set(claimId, { claimCertificateId: claimId, templateName: TEMPLATE, requestedBy: { sub: 'u-1' }, issuedAt: new Date(), expiresAt: new Date(), deviceId: 'FLEET-1' });
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toMatchObject({ allowProvisioning: true });
  });

  it.each<[string, () => Record<string, unknown>, () => void, Partial<HookSettings>, string]>([
    ['the event is not a hook event', () => ({ certificateId: 'x' }), () => {}, {}, 'invalid-event'],
    ['the template is another one', () => hookEvent({ templateArn: TEMPLATE_ARN.replace(TEMPLATE, 'other') }), () => {}, {}, 'template-not-allowed'],
    ['SerialNumber is missing', () => hookEvent({ parameters: {} }), () => {}, {}, 'parameters-invalid'],
    ['the device sends parameters of its own choosing', () => hookEvent({ parameters: { SerialNumber: 'FLEET-1', ThingGroupName: 'admins' } }), () => {}, {}, 'parameters-invalid'],
    ['SerialNumber is not a thing name', () => hookEvent({ parameters: { SerialNumber: 'bad serial!' } }), () => {}, {}, 'device-id-invalid'],
    ['the new certificate has an RSA-1024 key', () => hookEvent({ certificatePem: weak.certificatePem }), () => {}, {}, 'key-too-weak'],
    ['the new certificate cannot be read', () => hookEvent({ certificatePem: 'garbage' }), () => {}, {}, 'certificate-unreadable'],
    ['the serial is not allow-listed', () => hookEvent({ parameters: { SerialNumber: 'FLEET-9' } }), () => {}, {}, 'device-not-allowlisted'],
    ['the serial is blocked', () => hookEvent(), () => fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'blocked' }), {}, 'device-blocked'],
    [
      'the serial is bound to another ACTIVE certificate (takeover)',
      () => hookEvent(),
      () => {
        fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed', certificateId: 'a'.repeat(64), bindingState: 'bound' });
        fakes.certificates.set('a'.repeat(64), 'ACTIVE');
      },
      {},
      'device-already-bound',
    ],
    [
      'another certificate is being provisioned for the serial right now',
      () => hookEvent(),
      () => {
        fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed', certificateId: 'a'.repeat(64), bindingState: 'claimed', claimedAt: new Date().toISOString() });
        fakes.certificates.set('a'.repeat(64), 'PENDING_ACTIVATION');
      },
      {},
      'device-already-bound',
    ],
    [
      'the claim certificate was vended for another template',
      () => hookEvent(),
      () => {
        const id = loadEvent<{ claimCertificateId: string }>('pre-provisioning-hook').claimCertificateId;
        fakes.claims.set(id, { claimCertificateId: id, templateName: 'other', requestedBy: { sub: 'u' }, issuedAt: new Date(), expiresAt: new Date() });
      },
      {},
      'claim-not-for-template',
    ],
    [
      'the claim certificate was vended for another device',
      () => hookEvent(),
      () => {
        const id = loadEvent<{ claimCertificateId: string }>('pre-provisioning-hook').claimCertificateId;
        fakes.claims.set(id, { claimCertificateId: id, templateName: TEMPLATE, requestedBy: { sub: 'u' }, issuedAt: new Date(), expiresAt: new Date(), deviceId: 'OTHER-DEVICE' });
      },
      {},
      'claim-not-for-device',
    ],
    ['the claim is unknown and only vended claims are accepted', () => hookEvent(), () => {}, { requireIssuedClaim: true }, 'claim-unknown'],
  ])('denies when %s, with the reason recorded', async (_, event, arrange, s, reason) => {
    arrange();
    const result = await decideProvisioning(event(), fakes.deps(s));
    expect(result).toEqual({ allowProvisioning: false });
    const logged = fakes.logs.find((l) => l.level === 'warn' || l.level === 'error');
    expect(JSON.stringify(logged?.extra)).toContain(reason);
    if (reason !== 'invalid-event') expect(fakes.decisions.at(-1)).toMatchObject({ outcome: 'denied', reason });
    if (reason === 'device-already-bound') expect(fakes.entries.get('FLEET-1')?.certificateId).toBe('a'.repeat(64));
  });

  it('lets a device marked for re-provisioning take a new certificate once', async () => {
    fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed', certificateId: 'a'.repeat(64), bindingState: 'bound', reprovision: true });
    fakes.certificates.set('a'.repeat(64), 'ACTIVE');
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toMatchObject({ allowProvisioning: true });
    expect(fakes.entries.get('FLEET-1')).toMatchObject({ certificateId: device.certificateId });
    expect(fakes.entries.get('FLEET-1')?.reprovision).toBeUndefined();
  });

  it('lets a new certificate take over a stale claim whose provisioning never completed', async () => {
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed', certificateId: 'a'.repeat(64), bindingState: 'claimed', claimedAt: old });
    fakes.certificates.set('a'.repeat(64), 'PENDING_ACTIVATION');
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toMatchObject({ allowProvisioning: true });
  });

  it('answers false in time when the registry stalls, well inside the 5 s AWS allows', async () => {
    fakes.delayMs = 10_000;
    const started = Date.now();
    const result = await decideProvisioning(hookEvent(), fakes.deps({ deadlineMs: 300 }));
    const elapsed = Date.now() - started;
    expect(result).toEqual({ allowProvisioning: false });
    expect(elapsed).toBeLessThan(1_000);
    expect(fakes.decisions.at(-1)).toMatchObject({ outcome: 'denied', reason: 'deadline-exceeded' });
  });

  it('fails closed when the registry fails', async () => {
    fakes.failGet = true;
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toEqual({ allowProvisioning: false });
    expect(fakes.decisions.at(-1)).toMatchObject({ outcome: 'denied', reason: 'internal-error' });
  });

  it('does not allow a decision it cannot record', async () => {
    fakes.failRecord = true;
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toEqual({ allowProvisioning: false });
  });

  it('never throws, whatever it is given', async () => {
    for (const event of [undefined, null, 42, 'x', [], { parameters: 'x' }]) {
      await expect(decideProvisioning(event, fakes.deps())).resolves.toEqual({ allowProvisioning: false });
    }
  });

  it('uses the stack’s defaults when the registry names no group or type, and blank attributes it lacks', async () => {
    fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'allowed' });
    expect(await decideProvisioning(hookEvent(), fakes.deps())).toEqual({
      allowProvisioning: true,
      parameterOverrides: { ThingGroupName: 'default-fleet', ThingTypeName: 'default-type', attr_site: '' },
    });
  });

  it('admits an unknown serial in ca mode (blocked ones still not)', async () => {
    expect(await decideProvisioning(hookEvent({ parameters: { SerialNumber: 'FLEET-7' } }), fakes.deps({ mode: 'ca' }))).toMatchObject({ allowProvisioning: true });
  });
});

describe('the hook on the device timeline', () => {
  const withTimeline = (events: TimelineEvent[], fail = false): HookDeps => ({
    ...fakes.deps(),
    timeline: {
      append: async (event) => {
        if (fail) throw new Error('timeline unavailable');
        events.push(event);
      },
    },
  });

  it('appends each decision on a named device, with the reason and the hook as its actor', async () => {
    const events: TimelineEvent[] = [];
    await decideProvisioning(hookEvent(), withTimeline(events));
    fakes.entries.set('FLEET-2', { deviceId: 'FLEET-2', status: 'suspended' });
    await decideProvisioning(hookEvent({ parameters: { SerialNumber: 'FLEET-2' } }), withTimeline(events));
    expect(events).toEqual([
      expect.objectContaining({ deviceId: 'FLEET-1', type: 'decided', reason: 'allowed', certificateId: device.certificateId, actor: { kind: 'function', id: 'preProvisioningHook' } }),
      expect.objectContaining({ deviceId: 'FLEET-2', type: 'decided', reason: 'device-suspended' }),
    ]);
  });

  it('denies (internal-error) an allowed decision the timeline cannot record: fail closed', async () => {
    expect(await decideProvisioning(hookEvent(), withTimeline([], true))).toEqual({ allowProvisioning: false });
  });
});

describe('the hook’s metrics (shared/metrics-port.ts)', () => {
  it('emits the decision with its reason, the claim as metadata only, the latency, and an activation when allowed', async () => {
    const metrics = recordingMetrics();
    await decideProvisioning(hookEvent(), { ...fakes.deps(), metrics });
    const claimId = loadEvent<{ claimCertificateId: string }>('pre-provisioning-hook').claimCertificateId;
    expect(metrics.recorded.find((m) => m.name === 'Decisions')).toEqual({
      name: 'Decisions',
      unit: 'Count',
      value: 1,
      dimensions: { flow: 'hook', outcome: 'allowed', reason: 'admitted' },
      metadata: { claimCertificateId: claimId },
    });
    expect(metrics.recorded.find((m) => m.name === 'Activations')?.dimensions).toEqual({ flow: 'hook' });
    const latency = metrics.recorded.find((m) => m.name === 'HookDecisionLatency')!;
    expect(latency.unit).toBe('Milliseconds');
    expect(latency.value).toBeGreaterThanOrEqual(0);
    expect(latency.value).toBeLessThan(1_000);
  });

  it.each([
    ['device-blocked', () => fakes.entries.set('FLEET-1', { deviceId: 'FLEET-1', status: 'blocked' })],
    ['device-not-allowlisted', () => fakes.entries.delete('FLEET-1')],
  ])('emits a denial for %s, no activation, and no device, certificate or client id in any dimension', async (reason, given) => {
    given();
    const metrics = recordingMetrics();
    const event = hookEvent();
    await decideProvisioning(event, { ...fakes.deps(), metrics });
    expect(metrics.recorded.filter((m) => m.name === 'Decisions').map((m) => m.dimensions)).toEqual([{ flow: 'hook', outcome: 'denied', reason }]);
    expect(metrics.recorded.some((m) => m.name === 'Activations')).toBe(false);
    const dimensionValues = metrics.recorded.flatMap((m) => Object.values(m.dimensions));
    for (const id of ['FLEET-1', event.certificateId, event.claimCertificateId, event.clientId]) expect(dimensionValues).not.toContain(id);
  });

  it('counts a deadline-exceeded denial, with a latency near the deadline', async () => {
    fakes.delayMs = 300;
    const metrics = recordingMetrics();
    await decideProvisioning(hookEvent(), { ...fakes.deps({ deadlineMs: 100 }), metrics });
    expect(metrics.recorded.find((m) => m.name === 'Decisions')?.dimensions).toEqual({ flow: 'hook', outcome: 'denied', reason: 'deadline-exceeded' });
    expect(metrics.recorded.find((m) => m.name === 'HookDecisionLatency')!.value).toBeGreaterThanOrEqual(95);
  });
});
