import { createHash, X509Certificate } from 'node:crypto';
import type { CaFacts } from '../admission/admit';
import { readCertificateFacts } from '../certificates/certificate-facts';
import type { CertificateRecord } from '../provisioning/iot-ports';
import type { DeviceEntry } from '../registry/device-entry';
import type { QueuedFailure } from './failure-messages';
import { certificateIdsIn, failuresFor } from './failure-messages';
import type { CertificateSource, ConnectAttempt, ConnectFacts, DeviceState, DiagnosisFacts, FailureQueueFacts, Validity } from './facts';
import { lastDecisions } from './last-decisions';
import type { TimelineReader } from '../lifecycle/ports';

/**
 * The fact gathering of `devices why`: the registry entry, the last decisions, the certificate in AWS IoT
 * (status, things, policies, validity), its CA, and the failure queue's messages about it — through
 * ports, so that the CLI (AWS or the local IoT Core) and, later, the console's API call the same function.
 */

export interface DiagnosisPorts {
  registry: { get(deviceId: string): Promise<DeviceEntry | undefined> };
  iot: {
    describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
    listPrincipalThings(certificateArn: string): Promise<string[]>;
    listAttachedPolicies(certificateArn: string): Promise<string[]>;
    describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined>;
  };
  /**
   * The stack's failure queue, read without consuming it (best-effort: SQS shows a sample of the messages
   * that are not in flight). Throws when it cannot be read; the diagnosis then says so.
   */
  failureQueue: { peek(): Promise<QueuedFailure[]> };
  /**
   * The certificate's recent MQTT CONNECTs (client id, outcome), where the backend can observe them; absent
   * when it cannot (on AWS they are in CloudWatch Logs only: `connectsUnobserved` says so).
   */
  connections?: { recent(certificateId: string): Promise<ConnectAttempt[]> };
  /** Why connects are not observed, when `connections` is absent. */
  connectsUnobserved?: string;
  /** The per-device timeline, where the last decisions are read (else the registry entry's own records). */
  timeline?: TimelineReader;
}

export interface DiagnosisRequest {
  deviceId?: string;
  /** A certificate the operator names: its id, and its PEM (the chain file: device certificate, then its CA) when given as a file. */
  certificate?: { certificateId: string; pem?: string };
  devicePolicy: string;
  dataEndpoint?: string;
  now: Date;
}

const STATES: ReadonlySet<string> = new Set<DeviceState>(['allowed', 'blocked', 'provisioned', 'suspended', 'retired']);

const idOf = (certificate: X509Certificate) => createHash('sha256').update(certificate.raw).digest('hex');

/** The PEM blocks of a file's text, in order. */
const pemBlocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

function validityOf(pem: string | undefined): Validity | undefined {
  if (!pem) return undefined;
  try {
    const facts = readCertificateFacts(pem);
    return { notBefore: facts.notBefore.toISOString(), notAfter: facts.notAfter.toISOString() };
  } catch {
    return undefined;
  }
}

/**
 * Which certificate the device is about: the operator's, else the newer of the registry's binding and the
 * last refusal (a device refused after its binding is trying another certificate), else the last
 * provisioning's. JITR registers certificates by id only, so a device that was never bound or refused has
 * no certificate its record names: then the failure queue may (`findInFailureQueue`), else `--certificate`.
 */
function chooseCertificate(request: DiagnosisRequest, entry: DeviceEntry | undefined): { certificateId: string; source: CertificateSource } | undefined {
  if (request.certificate) return { certificateId: request.certificate.certificateId, source: 'operator' };
  if (!entry) return undefined;
  const bindingAt = entry.boundAt ?? entry.claimedAt ?? '';
  if (entry.lastRejection && (!entry.certificateId || entry.lastRejection.at > bindingAt)) return { certificateId: entry.lastRejection.certificateId, source: 'refusal' };
  if (entry.certificateId) return { certificateId: entry.certificateId, source: 'registry' };
  if (entry.lastProvisioning) return { certificateId: entry.lastProvisioning.certificateId, source: 'provisioning' };
  return undefined;
}

type Peeked = { messages: QueuedFailure[] } | { error: string };

async function peek(ports: DiagnosisPorts): Promise<Peeked> {
  try {
    return { messages: await ports.failureQueue.peek() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function failureQueueFacts(peeked: Peeked | undefined, certificateId: string | undefined): FailureQueueFacts {
  if (!certificateId || !peeked) return { read: false, why: 'no certificate to look for' };
  if ('error' in peeked) return { read: false, why: peeked.error };
  return { read: true, scanned: peeked.messages.length, messages: failuresFor(certificateId, peeked.messages) };
}

// Each candidate costs one DescribeCertificate; a failure queue with more is a finding of its own.
const MAX_QUEUED_CANDIDATES = 10;

/**
 * A device that was never bound nor refused: its registered event may have failed before the registry
 * heard of it (a DynamoDB outage, say), leaving the certificate PENDING_ACTIVATION with no record naming
 * it. The failure queue's events name certificates by id; the one whose subject (CN or serialNumber, where
 * admission reads the device id) names the device is the device's.
 */
async function findInFailureQueue(ports: DiagnosisPorts, peeked: Peeked, deviceId: string): Promise<CertificateRecord | undefined> {
  if ('error' in peeked) return undefined;
  for (const certificateId of certificateIdsIn(peeked.messages).slice(0, MAX_QUEUED_CANDIDATES)) {
    const record = await ports.iot.describeCertificate(certificateId);
    if (!record) continue;
    try {
      const { subject } = readCertificateFacts(record.certificatePem);
      if (subject.commonName.includes(deviceId) || subject.serialNumber.includes(deviceId)) return record;
    } catch {
      // An unreadable certificate names no device.
    }
  }
  return undefined;
}

async function readConnects(ports: DiagnosisPorts, certificateId: string | undefined): Promise<ConnectFacts> {
  if (!ports.connections) return { observed: false, why: ports.connectsUnobserved ?? 'connects are not observable here' };
  if (!certificateId) return { observed: false, why: 'no certificate to look for' };
  try {
    return { observed: true, attempts: await ports.connections.recent(certificateId) };
  } catch (error) {
    return { observed: false, why: (error as Error).message };
  }
}

export async function gatherFacts(ports: DiagnosisPorts, request: DiagnosisRequest): Promise<DiagnosisFacts> {
  const entry = request.deviceId ? await ports.registry.get(request.deviceId) : undefined;
  let chosen = chooseCertificate(request, entry);
  let record = chosen ? await ports.iot.describeCertificate(chosen.certificateId) : undefined;
  let peeked = chosen ? await peek(ports) : undefined;
  if (!chosen && request.deviceId) {
    peeked = await peek(ports);
    record = await findInFailureQueue(ports, peeked, request.deviceId);
    if (record) chosen = { certificateId: record.certificateId, source: 'failure-queue' };
  }
  const [things, policies] = record
    ? await Promise.all([ports.iot.listPrincipalThings(record.certificateArn), ports.iot.listAttachedPolicies(record.certificateArn)])
    : [[], []];
  const operatorPem = request.certificate?.pem;
  // The CA: AWS IoT's, or the CA certificate that follows the device certificate in the operator's chain file.
  const chainCa = operatorPem ? pemBlocks(operatorPem)[1] : undefined;
  const caCertificateId = record?.caCertificateId ?? (chainCa ? idOf(new X509Certificate(chainCa)) : undefined);
  const ca = caCertificateId ? await ports.iot.describeCaCertificate(caCertificateId) : undefined;
  const validity = validityOf(record?.certificatePem ?? operatorPem);
  const deviceId = request.deviceId;
  return {
    deviceId,
    registry: entry
      ? {
          deviceId: entry.deviceId,
          state: entry.status && STATES.has(entry.status) ? (entry.status as DeviceState) : undefined,
          ...(entry.certificateId ? { certificateId: entry.certificateId } : {}),
          ...(entry.bindingState ? { bindingState: entry.bindingState } : {}),
          ...(entry.thingName ? { thingName: entry.thingName } : {}),
        }
      : undefined,
    decisions: await lastDecisions(entry, ports.timeline),
    ...(chosen
      ? {
          certificate: {
            ...chosen,
            registered: record
              ? { status: record.status, certificateArn: record.certificateArn, ...(record.caCertificateId ? { caCertificateId: record.caCertificateId } : {}), things, policies }
              : undefined,
            ...(validity ? { validity } : {}),
          },
        }
      : {}),
    ...(caCertificateId
      ? { ca: ca ? { caCertificateId, registered: true, status: ca.status, autoRegistrationStatus: ca.autoRegistrationStatus } : { caCertificateId, registered: false } }
      : {}),
    failureQueue: failureQueueFacts(peeked, chosen?.certificateId),
    connects: await readConnects(ports, chosen?.certificateId),
    expectedThingName: deviceId ?? entry?.thingName ?? things[0],
    devicePolicy: request.devicePolicy,
    ...(request.dataEndpoint ? { dataEndpoint: request.dataEndpoint } : {}),
    now: request.now,
  };
}
