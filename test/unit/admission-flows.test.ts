import { createCa, createCsr, issueCertificate, type KeySpec, type KeyedCertificate } from '../../lib/pki';
import type { AdmissionMode } from '../../shared/admission/admit';
import { activateRegisteredCertificate } from '../../shared/provisioning/activate-certificate';
import { decideProvisioning } from '../../shared/provisioning/pre-provisioning';
import { vendCertificate } from '../../shared/provisioning/vend-certificate';
import type { CertificateRecord, IotDirectory } from '../../shared/provisioning/iot-ports';
import type { ProvisioningDecision } from '../../shared/provisioning/ledger-ports';
import type { Log } from '../../shared/log';
import type { ClaimResult, DeviceRegistry } from '../../shared/registry/ports';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import { readCertificateFacts } from '../../shared/certificates/certificate-facts';
import { readCsrFacts } from '../../shared/certificates/csr';
import { loadEvent } from '../support/fixtures';
import { arnOf } from '../support/handlers';

/**
 * The three flows that admit a device — JITR, the pre-provisioning hook and certificate vending — run the
 * one `admitDevice`: given the same registry state and the same certificate facts, they decide the same
 * reason. Each flow runs end to end on in-memory stand-ins; only its answer's shape differs, so each runner
 * reduces it to `admitted` or the reason.
 */

const DEVICE = 'FLOW-0001';
const OTHER = 'c'.repeat(64);
const TEMPLATE = 'iot-provisioner-test';
const MINUTE = 60_000;
const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Registry and IoT in memory: entries by device, certificates by id (status and PEM). */
class World {
  entries = new Map<string, DeviceEntry>();
  certificates = new Map<string, { status: string; pem: string; caCertificateId?: string }>();
  decisions: ProvisioningDecision[] = [];
  minted = 0;

  registry: DeviceRegistry = {
    get: async (deviceId) => this.entries.get(deviceId),
    claim: async (deviceId, certificateId, options): Promise<ClaimResult> => {
      const current = this.entries.get(deviceId);
      const ok = options.previousCertificateId ? current?.certificateId === options.previousCertificateId : !current?.certificateId || current.certificateId === certificateId;
      if (!ok) return { claimed: false, current };
      this.entries.set(deviceId, { ...(current ?? { deviceId }), certificateId, bindingState: 'claimed', claimedAt: options.at.toISOString() });
      return { claimed: true };
    },
    markBound: async (deviceId, certificateId, thingName) => {
      this.entries.set(deviceId, { ...(this.entries.get(deviceId) ?? { deviceId }), certificateId, bindingState: 'bound', thingName });
    },
    recordRejection: async () => {},
    recordProvisioning: async () => {},
    unbind: async () => true,
  };

  iot: IotDirectory = {
    describeCertificate: async (id): Promise<CertificateRecord | undefined> => {
      const c = this.certificates.get(id);
      return c ? { certificateId: id, certificateArn: arnOf(id), caCertificateId: c.caCertificateId, status: c.status, certificatePem: c.pem } : undefined;
    },
    describeCaCertificate: async () => ({ status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' }),
    createThing: async () => 'created',
    addThingToThingGroup: async () => {},
    attachPolicy: async () => {},
    attachThingPrincipal: async () => {},
    detachThingPrincipal: async () => {},
    updateCertificateStatus: async (id, status) => {
      const c = this.certificates.get(id);
      if (c) c.status = status;
    },
    listPrincipalThings: async () => [],
    listAttachedPolicies: async () => [],
    createProvisioningClaim: async () => {
      throw new Error('not used');
    },
    describeEndpoint: async (type) => `${type}.example`,
    createKeysAndCertificate: async () => {
      const certificateId = String(++this.minted).padStart(64, 'd');
      this.certificates.set(certificateId, { status: 'INACTIVE', pem: '' });
      return { certificateId, certificateArn: arnOf(certificateId), certificatePem: '', privateKey: 'generated', publicKey: 'generated' };
    },
    createCertificateFromCsr: async () => {
      const certificateId = String(++this.minted).padStart(64, 'd');
      this.certificates.set(certificateId, { status: 'INACTIVE', pem: '' });
      return { certificateId, certificateArn: arnOf(certificateId), certificatePem: '' };
    },
    detachPolicy: async () => {},
    deleteCertificate: async () => 'deleted',
  };
}

let ca: KeyedCertificate;
type Facts = KeySpec | 'expired' | 'not-yet-valid';
const keyed = new Map<Facts, { certificate: KeyedCertificate; csrPem: string }>();
const DAY = 24 * 60 * MINUTE;

beforeAll(async () => {
  ca = await createCa({ commonName: 'Flows CA' });
  for (const spec of ['ec-p256', 'rsa-1024', 'ec-p521'] as const) {
    keyed.set(spec, {
      certificate: await issueCertificate(ca, { subject: { serialNumber: DEVICE }, keySpec: spec }),
      csrPem: (await createCsr({ serialNumber: DEVICE }, spec)).csrPem,
    });
  }
  const csrPem = keyed.get('ec-p256')!.csrPem;
  const window = { expired: [-400 * DAY, -DAY], 'not-yet-valid': [DAY, 400 * DAY] } as const;
  for (const [facts, [from, to]] of Object.entries(window) as Array<['expired' | 'not-yet-valid', readonly [number, number]]>) {
    const certificate = await issueCertificate(ca, { subject: { serialNumber: DEVICE }, notBefore: new Date(Date.now() + from), notAfter: new Date(Date.now() + to) });
    keyed.set(facts, { certificate, csrPem });
  }
});

type Flow = 'jitr' | 'hook' | 'vending';
const now = () => new Date();

/** Runs one flow for the device with a certificate (or CSR) of `facts`, and says what it decided. */
async function decide(flow: Flow, world: World, facts: Facts, mode: AdmissionMode, options: { withoutCsr?: boolean } = {}): Promise<string> {
  const { certificate, csrPem } = keyed.get(facts)!;
  if (flow === 'jitr') {
    world.certificates.set(certificate.certificateId, { status: 'PENDING_ACTIVATION', pem: certificate.certificatePem, caCertificateId: ca.certificateId });
    const result = await activateRegisteredCertificate(
      { ...loadEvent('certificate-registered'), certificateId: certificate.certificateId, caCertificateId: ca.certificateId },
      {
        iot: world.iot,
        registry: world.registry,
        caLookup: (id) => world.iot.describeCaCertificate(id),
        settings: {
          admission: { mode, deviceIdSource: 'serialNumber', boundDevice: 'refuse' },
          devicePolicyName: 'device',
          rejectAction: 'REVOKED',
          staleClaimMs: 2 * MINUTE,
        },
        now,
        log: silent,
      },
    );
    return result.outcome === 'activated' ? 'admitted' : result.outcome === 'rejected' ? result.reason : `unexpected ${result.outcome}`;
  }
  if (flow === 'hook') {
    world.certificates.set(certificate.certificateId, { status: 'PENDING_ACTIVATION', pem: certificate.certificatePem });
    const answer = await decideProvisioning(
      {
        claimCertificateId: 'e'.repeat(64),
        certificateId: certificate.certificateId,
        certificatePem: certificate.certificatePem,
        templateArn: `arn:aws:iot:us-east-1:123456789012:provisioningtemplate/${TEMPLATE}`,
        clientId: 'client-1',
        parameters: { SerialNumber: DEVICE },
      },
      {
        registry: world.registry,
        ledger: { getClaim: async () => undefined, recordDecision: async (d) => void world.decisions.push(d) },
        iot: world.iot,
        settings: { templateName: TEMPLATE, mode, requireIssuedClaim: false, thingGroup: 'g', thingType: 't', attributeNames: [], deadlineMs: 2_000, staleClaimMs: 2 * MINUTE },
        now,
        log: silent,
      },
    );
    return answer.allowProvisioning ? 'admitted' : (world.decisions.at(-1)?.reason ?? 'no reason recorded');
  }
  const outcome = await vendCertificate(
    { deviceId: DEVICE, ...(options.withoutCsr ? {} : { csrPem }), rotate: false },
    {
      iot: world.iot,
      registry: world.registry,
      idempotency: { begin: async () => ({ state: 'new' }), saveProgress: async () => {}, complete: async () => {}, abandon: async () => {} },
      retirements: { schedule: async () => {} },
      endpoints: async () => ({ data: 'data.example', credentials: 'credentials.example' }),
      settings: { devicePolicyName: 'device', mode, deviceIdSource: 'serialNumber', retireGraceSeconds: 300, roleAlias: 'alias', rootCaUrl: 'https://ca.example' },
      now,
      log: silent,
    },
  );
  return outcome.kind === 'vended' ? 'admitted' : outcome.reason;
}

/** The registry's entry for the device and the certificate it names (`status` absent: deleted). */
interface RegistryState {
  entry?: Omit<DeviceEntry, 'deviceId'>;
  other?: { status?: string; claimedAgoMs?: number };
}

function worldWith(state: RegistryState): World {
  const world = new World();
  if (state.entry) {
    const claimedAt = state.other?.claimedAgoMs !== undefined ? { claimedAt: new Date(Date.now() - state.other.claimedAgoMs).toISOString() } : {};
    world.entries.set(DEVICE, { deviceId: DEVICE, ...state.entry, ...claimedAt });
  }
  if (state.other?.status) world.certificates.set(OTHER, { status: state.other.status, pem: '' });
  return world;
}

const FLOWS: Flow[] = ['jitr', 'hook', 'vending'];
const bound = (bindingState: 'bound' | 'claimed', extra: Partial<DeviceEntry> = {}) => ({ status: 'allowed' as const, certificateId: OTHER, bindingState, ...extra });

describe('the three flows decide alike on the same registry state', () => {
  it.each<[string, AdmissionMode, RegistryState, string]>([
    ['an unknown device in allowlist mode', 'allowlist', {}, 'device-not-allowlisted'],
    ['an unknown device in ca mode', 'ca', {}, 'admitted'],
    ['a blocked device', 'ca', { entry: { status: 'blocked' } }, 'device-blocked'],
    ['a blocked device in allowlist mode', 'allowlist', { entry: { status: 'blocked' } }, 'device-blocked'],
    ['an allowed, unbound device', 'allowlist', { entry: { status: 'allowed' } }, 'admitted'],
    ['a device bound to another ACTIVE certificate', 'allowlist', { entry: bound('bound'), other: { status: 'ACTIVE' } }, 'device-already-bound'],
    ['a device bound to another ACTIVE certificate, marked for re-provisioning', 'allowlist', { entry: bound('bound', { reprovision: true }), other: { status: 'ACTIVE' } }, 'admitted'],
    ['a device bound to a REVOKED certificate', 'allowlist', { entry: bound('bound'), other: { status: 'REVOKED' } }, 'admitted'],
    ['a device bound to an INACTIVE certificate', 'allowlist', { entry: bound('bound'), other: { status: 'INACTIVE' } }, 'admitted'],
    ['a device bound to a deleted certificate', 'allowlist', { entry: bound('bound'), other: {} }, 'admitted'],
    ['a device claimed 30 s ago by a certificate still pending (in flight)', 'allowlist', { entry: bound('claimed'), other: { status: 'PENDING_ACTIVATION', claimedAgoMs: MINUTE / 2 } }, 'device-already-bound'],
    ['a device claimed 10 min ago by a certificate still pending (abandoned)', 'allowlist', { entry: bound('claimed'), other: { status: 'PENDING_ACTIVATION', claimedAgoMs: 10 * MINUTE } }, 'admitted'],
    ['a device claimed with no claim time by a certificate still pending', 'allowlist', { entry: bound('claimed'), other: { status: 'PENDING_ACTIVATION' } }, 'device-already-bound'],
  ])('%s (%s mode)', async (_, mode, state, expected) => {
    const decided = await Promise.all(FLOWS.map((flow) => decide(flow, worldWith(state), 'ec-p256', mode)));
    expect(Object.fromEntries(FLOWS.map((flow, i) => [flow, decided[i]]))).toEqual({ jitr: expected, hook: expected, vending: expected });
  });
});

describe('the three flows decide alike on the same key', () => {
  it.each<[string, KeySpec, string]>([
    ['EC P-256', 'ec-p256', 'admitted'],
    ['RSA-1024', 'rsa-1024', 'key-too-weak'],
    ['EC P-521', 'ec-p521', 'key-type-not-allowed'],
  ])('a key of %s', async (_, spec, expected) => {
    const decided = await Promise.all(FLOWS.map((flow) => decide(flow, worldWith({ entry: { status: 'allowed' } }), spec, 'allowlist')));
    expect(Object.fromEntries(FLOWS.map((flow, i) => [flow, decided[i]]))).toEqual({ jitr: expected, hook: expected, vending: expected });
  });

  it('decides on the key before the registry, in every flow: a weak key of a blocked device is refused for its key', async () => {
    const decided = await Promise.all(FLOWS.map((flow) => decide(flow, worldWith({ entry: { status: 'blocked' } }), 'rsa-1024', 'ca')));
    expect(decided).toEqual(['key-too-weak', 'key-too-weak', 'key-too-weak']);
  });
});

describe('where the flows differ by design', () => {
  it.each<[string, Facts, string]>([
    ['an expired certificate', 'expired', 'certificate-expired'],
    ['a certificate not yet valid', 'not-yet-valid', 'certificate-not-yet-valid'],
  ])('JITR and the hook refuse %s alike; vending has no certificate to check (a CSR has no validity window)', async (_, facts, expected) => {
    const decided = await Promise.all(FLOWS.map((flow) => decide(flow, worldWith({ entry: { status: 'allowed' } }), facts, 'allowlist')));
    expect(Object.fromEntries(FLOWS.map((flow, i) => [flow, decided[i]]))).toEqual({ jitr: expected, hook: expected, vending: 'admitted' });
  });
});

describe('the three flows honour a key pinned at the factory alike', () => {
  /** The fingerprint of the key the flow presents: JITR's and the hook's certificate, vending's CSR. */
  const keyOf = (flow: Flow, facts: Facts) =>
    flow === 'vending' ? readCsrFacts(keyed.get(facts)!.csrPem).publicKeySha256 : readCertificateFacts(keyed.get(facts)!.certificate.certificatePem).publicKeySha256;
  const pinned = (flow: Flow, pin: 'its key' | 'another key' | 'no pin', mode: AdmissionMode) => {
    const pinnedKeySha256 = pin === 'its key' ? keyOf(flow, 'ec-p256') : pin === 'another key' ? keyOf(flow, 'rsa-1024') : undefined;
    return worldWith({ entry: { status: 'allowed', ...(pinnedKeySha256 ? { pinnedKeySha256 } : {}) } });
  };

  it.each<[string, 'its key' | 'another key' | 'no pin', AdmissionMode, string]>([
    ['admits the key the entry pins', 'its key', 'allowlist', 'admitted'],
    ['refuses another key than the one the entry pins', 'another key', 'allowlist', 'key-not-pinned'],
    ['refuses another key in ca mode too', 'another key', 'ca', 'key-not-pinned'],
    ['admits any key of an entry without a pin, as before', 'no pin', 'allowlist', 'admitted'],
  ])('%s (%s, %s mode)', async (_, pin, mode, expected) => {
    const decided = await Promise.all(FLOWS.map((flow) => decide(flow, pinned(flow, pin, mode), 'ec-p256', mode)));
    expect(Object.fromEntries(FLOWS.map((flow, i) => [flow, decided[i]]))).toEqual({ jitr: expected, hook: expected, vending: expected });
  });

  it('refuses a vend without a CSR for a pinned device: the key AWS IoT would make cannot be the pinned one', async () => {
    const world = pinned('vending', 'its key', 'allowlist');
    expect(await decide('vending', world, 'ec-p256', 'allowlist', { withoutCsr: true })).toBe('key-not-pinned');
    expect(world.minted).toBe(0);
  });

  it('still vends without a CSR for a device without a pin', async () => {
    expect(await decide('vending', pinned('vending', 'no pin', 'allowlist'), 'ec-p256', 'allowlist', { withoutCsr: true })).toBe('admitted');
  });

  it('decides the pin after the operator: a blocked device with another key is refused as blocked', async () => {
    const decided = await Promise.all(
      FLOWS.map((flow) => decide(flow, worldWith({ entry: { status: 'blocked', pinnedKeySha256: keyOf(flow, 'rsa-1024') } }), 'ec-p256', 'ca')),
    );
    expect(decided).toEqual(['device-blocked', 'device-blocked', 'device-blocked']);
  });

  it('decides the pin before the binding: another key is refused for its key even when the device is bound', async () => {
    const decided = await Promise.all(
      FLOWS.map((flow) =>
        decide(flow, worldWith({ entry: { ...bound('bound'), pinnedKeySha256: keyOf(flow, 'rsa-1024') }, other: { status: 'ACTIVE' } }), 'ec-p256', 'allowlist'),
      ),
    );
    expect(decided).toEqual(['key-not-pinned', 'key-not-pinned', 'key-not-pinned']);
  });
});
