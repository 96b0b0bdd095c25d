import { createHash, X509Certificate } from 'node:crypto';
import { createCa, issueCertificate, issueCertificateForKey, readCsr, type KeyedCertificate } from '../../lib/pki';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import type { TimelineEvent } from '../../shared/lifecycle/ports';
import type { Rotation } from '../../shared/rotation/model';
import type { RotationAnswer, RotationIssueDeps, RotationIssueIot, RotationIssueRegistry } from '../../shared/rotation/issue';

/**
 * An in-memory AWS IoT and registry for the rotation's CSR step (shared/rotation/issue.ts): certificates with
 * their status, policies and things, job executions, and a registry entry whose `rotation` writes follow the
 * conditions of shared/aws/registry/rotation-issue.ts. Every mutating call is counted, so a test can crash the
 * step after any of them (test/reliability/crash-rotation-issue.test.ts).
 */

export interface FakeCertificate {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  status: 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_ACTIVATION';
  policies: Set<string>;
  things: Set<string>;
}

export const POLICY = 'stack-device';
export const ARN_PREFIX = 'arn:aws:iot:eu-west-1:123456789012';

export class CrashError extends Error {
  override name = 'CrashError';
}

const idOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

export class RotationIssueWorld {
  readonly certificates = new Map<string, FakeCertificate>();
  readonly executions = new Map<string, string>();
  readonly entries = new Map<string, DeviceEntry>();
  readonly answers: Array<{ thingName: string; answer: RotationAnswer }> = [];
  readonly timeline = new Map<string, TimelineEvent>();
  readonly calls: string[] = [];
  /** Crash (throw) after this many mutating calls have completed; checked after each one. */
  crashAfter: number | undefined;
  /** Called after every mutating call (the invariants of test/reliability/invariants.ts). */
  onStep: (name: string) => void = () => {};
  private mutations = 0;
  private clock = Date.parse('2026-12-01T10:00:00Z');

  private constructor(readonly ca: KeyedCertificate) {}

  static async create(): Promise<RotationIssueWorld> {
    return new RotationIssueWorld(await createCa({ commonName: 'Amazon Root stand-in' }));
  }

  now = (): Date => new Date((this.clock += 1_000));

  private async mutated(name: string): Promise<void> {
    this.calls.push(name);
    this.mutations += 1;
    this.onStep(name);
    if (this.crashAfter !== undefined && this.mutations === this.crashAfter) throw new CrashError(`crash after ${name}`);
  }

  resetCrash(): void {
    this.crashAfter = undefined;
    this.mutations = 0;
  }

  private addCertificate(pem: string, status: FakeCertificate['status']): FakeCertificate {
    const certificateId = idOf(pem);
    const certificate: FakeCertificate = { certificateId, certificateArn: `${ARN_PREFIX}:cert/${certificateId}`, certificatePem: pem, status, policies: new Set(), things: new Set() };
    this.certificates.set(certificateId, certificate);
    return certificate;
  }

  /** A device bound to an ACTIVE certificate (attached to its thing and the policy), with a rotation `queued` for `jobId` and its execution IN_PROGRESS. */
  async boundDevice(thing: string, options: { jobId?: string; execution?: string; entry?: Partial<DeviceEntry>; rotation?: Partial<Rotation> | null } = {}): Promise<KeyedCertificate> {
    const device = await issueCertificate(this.ca, { subject: { commonName: thing, serialNumber: thing } });
    const certificate = this.addCertificate(device.certificatePem, 'ACTIVE');
    certificate.policies.add(POLICY);
    certificate.things.add(thing);
    const jobId = options.jobId ?? 'rotate-2026-12-1';
    const at = new Date(this.clock).toISOString();
    this.entries.set(thing, {
      deviceId: thing,
      status: 'allowed',
      certificateId: certificate.certificateId,
      bindingState: 'bound',
      thingName: thing,
      ...(options.rotation === null ? {} : { rotation: { jobId, state: 'queued', startedAt: at, updatedAt: at, previousCertificateId: certificate.certificateId, ...options.rotation } }),
      ...options.entry,
    } as DeviceEntry);
    this.executions.set(`${jobId}|${thing}`, options.execution ?? 'IN_PROGRESS');
    return device;
  }

  /** The certificates (other than `except`) attached to the thing, ACTIVE. */
  activeAttached(thing: string): FakeCertificate[] {
    return [...this.certificates.values()].filter((c) => c.things.has(thing) && c.status === 'ACTIVE' && c.policies.has(POLICY));
  }

  readonly iot: RotationIssueIot = {
    describeCertificate: async (certificateId) => {
      const c = this.certificates.get(certificateId);
      return c && { certificateId: c.certificateId, certificateArn: c.certificateArn, caCertificateId: undefined, status: c.status, certificatePem: c.certificatePem };
    },
    createCertificateFromCsr: async (csrPem) => {
      const csr = await readCsr(csrPem);
      const certificate = await issueCertificateForKey(this.ca, { publicKey: csr.publicKey, subject: csr.subject });
      const created = this.addCertificate(certificate.toString('pem'), 'INACTIVE');
      await this.mutated('CreateCertificateFromCsr');
      return { certificateId: created.certificateId, certificateArn: created.certificateArn, certificatePem: created.certificatePem };
    },
    attachPolicy: async (policyName, certificateArn) => {
      this.byArn(certificateArn).policies.add(policyName);
      await this.mutated('AttachPolicy');
    },
    attachThingPrincipal: async (thingName, certificateArn) => {
      this.byArn(certificateArn).things.add(thingName);
      await this.mutated('AttachThingPrincipal');
    },
    updateCertificateStatus: async (certificateId, status) => {
      this.certificates.get(certificateId)!.status = status;
      await this.mutated('UpdateCertificate');
    },
    describeJobExecution: async (jobId, thingName) => {
      const status = this.executions.get(`${jobId}|${thingName}`);
      return status ? { status } : undefined;
    },
  };

  private byArn(arn: string): FakeCertificate {
    const c = [...this.certificates.values()].find((x) => x.certificateArn === arn);
    if (!c) throw new Error(`no certificate ${arn}`);
    return c;
  }

  /** The registry's conditional rotation writes, as shared/aws/registry/rotation-issue.ts words them. */
  readonly registry: RotationIssueRegistry = {
    get: async (deviceId) => structuredClone(this.entries.get(deviceId)),
    beginIssue: async (deviceId, intent) => {
      const r = this.entries.get(deviceId)?.rotation;
      if (r?.jobId !== intent.jobId || r.state !== 'queued') return 'changed';
      Object.assign(r, { state: 'issuing', clientToken: intent.clientToken, newKeySha256: intent.newKeySha256, updatedAt: intent.at.toISOString() });
      await this.mutated('beginIssue');
      return 'done';
    },
    recordNewCertificate: async (deviceId, issued) => {
      const r = this.entries.get(deviceId)?.rotation;
      if (r?.jobId !== issued.jobId || r.state !== 'issuing' || r.newKeySha256 !== issued.newKeySha256 || (r.newCertificateId !== undefined && r.newCertificateId !== issued.certificateId)) return 'changed';
      Object.assign(r, { newCertificateId: issued.certificateId, newCertificateArn: issued.certificateArn, updatedAt: issued.at.toISOString() });
      await this.mutated('recordNewCertificate');
      return 'done';
    },
    markIssued: async (deviceId, issued) => {
      const r = this.entries.get(deviceId)?.rotation;
      if (r?.jobId !== issued.jobId || r.newCertificateId !== issued.certificateId || (r.state !== 'issuing' && r.state !== 'issued')) return 'changed';
      Object.assign(r, { state: 'issued', issuedAt: r.issuedAt ?? issued.at.toISOString(), updatedAt: issued.at.toISOString() });
      await this.mutated('markIssued');
      return structuredClone(r);
    },
    recordRefusal: async (deviceId, refusal) => {
      const r = this.entries.get(deviceId)?.rotation;
      if (r?.jobId !== refusal.jobId || r.state !== 'queued') return 'changed';
      Object.assign(r, { state: 'refused', reason: refusal.reason, updatedAt: refusal.at.toISOString() });
      await this.mutated('recordRefusal');
      return 'done';
    },
  };

  deps(): RotationIssueDeps {
    return {
      iot: this.iot,
      registry: this.registry,
      answer: async (thingName, answer) => {
        this.answers.push({ thingName, answer });
        await this.mutated('Publish');
      },
      timeline: {
        append: async (event) => {
          // The table's sort key: time, type and key (shared/aws/timeline/items.ts).
          this.timeline.set(`${event.deviceId}|${event.at.toISOString()}#${event.type}#${event.key}`, event);
          await this.mutated('appendTimelineEvent');
        },
      },
      settings: { devicePolicyName: POLICY, functionName: 'rotateCertificate' },
      now: this.now,
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    };
  }
}
