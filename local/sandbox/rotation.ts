import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeJobCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { mqttConnector } from '../../device/agent-connection';
import { DirectoryFiles, type DeviceFiles } from '../../device/atomic-files';
import { connectOnce, disconnect, type Identity } from '../../device/mqtt-connection';
import { FILES, RotationAgent, type AgentEvent } from '../../device/rotation-agent';
import { deviceChain, issueCertificate } from '../../lib/pki';
import { formatRotationStatus, rotationStartDeps, rotationStatusDeps } from '../../lib/rotation-operator';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient } from '../../shared/aws/clients';
import { describeJobTemplateArn } from '../../shared/aws/iot/rotation-jobs';
import type { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import type { Rotation } from '../../shared/rotation/model';
import { defaultJobId, rotationStatus, startRotation } from '../../shared/rotation/start';
import type { LocalIotCore } from '../local-iot-core';
import type { LifecycleContext } from './lifecycle';
import type { SandboxRow } from './row';
import { connectJitr, type Endpoint } from './simulator';
import namesModule = require('../../resources/names.cjs');

/**
 * The sandbox's rotation wave (issue 14, docs/rotation-design.md §4 first line): five JITR devices of the
 * sandbox's CA, one rotation started as `iot-provisioner rotate --devices …` starts it (shared/rotation/start.ts
 * with the stack's job template), and on the devices the real RotationAgent over MQTT/TLS with its files in a
 * temporary directory. The backend is the deployed stack's: the CSR rule and rotateCertificate, the presence and
 * job-execution rules and rotationEvents, the retirement queue and retireCertificate.
 *
 * - three devices online: committed, the new certificate ACTIVE and connecting, the old one INACTIVE after the
 *   grace (retireGraceSeconds 300 ÷ the sandbox's time scale 600 = 0.5 s of SQS delay);
 * - one device that takes the certificate and then loses power before it reconnects: it never confirms, so its
 *   execution times out after the template's inProgressTimeoutInMinutes (the sandbox deploys 1 minute, the API's
 *   least, and moves the local IoT Core's clock 61 s instead of waiting) and the backend rolls back: the new
 *   certificate REVOKED and detached, the old one still connects (the restarted agent is refused with the new pair
 *   and falls back to the old, protocol §4). "A timer is started when the job execution status is set to
 *   IN_PROGRESS […] automatically set to TIMED_OUT" (https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html);
 * - one device offline during the wave: its execution waits QUEUED — the in-progress timer has not started, so the
 *   clock's jump does not time it out — and when it comes online its agent takes it with StartNextPendingJobExecution
 *   ("the next pending (status IN_PROGRESS or QUEUED) job execution", device workflow,
 *   https://docs.aws.amazon.com/iot/latest/developerguide/jobs-workflow-device-online.html) and rotates.
 *
 * Every row's ✓ comes from state read back: the registry's rotation, DescribeCertificate of both certificates,
 * and a real connect with each pair.
 */

export interface RotationContext extends LifecycleContext {
  /** Moves the local IoT Core's clock forward (its Jobs' timers fall due on their next tick). */
  advanceClock: (ms: number) => void;
}

type Role = 'online' | 'silent' | 'offline';

interface WaveDevice {
  deviceId: string;
  label: string;
  role: Role;
  dir: string;
  oldCertificateId: string;
  /** The pair the device had before the wave (certificate with the CA, key), kept here to try it afterwards. */
  old: Identity;
  events: AgentEvent[];
  /** What the agent runs ended with (the power cut, or an error). */
  ended: string[];
  /** The job execution's status (DescribeJobExecution) when the device came back (the offline one). */
  executionWhileAway?: string;
}

const DEVICES: Array<{ deviceId: string; label: string; role: Role }> = [
  { deviceId: 'ROT-0001', label: 'online, agent running', role: 'online' },
  { deviceId: 'ROT-0002', label: 'online, agent running', role: 'online' },
  { deviceId: 'ROT-0003', label: 'online, agent running', role: 'online' },
  { deviceId: 'ROT-0004', label: 'never confirms (power lost)', role: 'silent' },
  { deviceId: 'ROT-0005', label: 'offline during the wave', role: 'offline' },
];

const MINUTE_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The device's files, with the power cut right after the agent recorded `certificate-received`: the new
 * certificate is on the device, but the device never reconnects with it and never reports.
 */
class PowerCutAfterCertificate implements DeviceFiles {
  private off = false;
  constructor(private readonly files: DeviceFiles) {}

  private check(): void {
    if (this.off) throw new Error('power lost');
  }
  async read(name: string) {
    this.check();
    return this.files.read(name);
  }
  async write(name: string, data: string) {
    this.check();
    await this.files.write(name, data);
    if (name === FILES.state && (JSON.parse(data) as { phase?: string }).phase === 'certificate-received') this.off = true;
  }
  async rename(from: string, to: string) {
    this.check();
    await this.files.rename(from, to);
  }
  async remove(name: string) {
    this.check();
    await this.files.remove(name);
  }
}

export async function runRotationFlows(ctx: RotationContext): Promise<SandboxRow[]> {
  const { core, deployed, iot, registry, endpoint, ca, log } = ctx;
  const documents = createDocumentClient();
  const registryTable = { client: documents, tableName: deployed.tableName };
  const timeline = bindCalls({ client: documents, tableName: deployed.timelineTableName }, { append: appendTimelineEvent });
  const actor = { kind: 'cli' as const, id: `local:${core.endpoints.accountId}` };
  const root = mkdtempSync(join(tmpdir(), 'sandbox-rotation-'));
  const t0 = Date.now();
  try {
    // The CSR function's two containers (its reserved concurrency) start while the devices are provisioned: the
    // wave's CSRs then meet warm containers, as they would in a wave of many devices.
    const warm = deployed.runtimes.get('rotateCertificate')?.prestart(2);
    // ---- five JITR devices, bound ----
    const devices: WaveDevice[] = await Promise.all(
      DEVICES.map(async (spec) => {
        await registry.allow(spec.deviceId, {}, new Date());
        const certificate = await issueCertificate(ca, { subject: { serialNumber: spec.deviceId } });
        const dir = join(root, spec.deviceId);
        mkdirSync(dir);
        // What the device keeps (the agent's file names): its certificate with the CA, as it connects with it, and its key.
        const old = { certificatePem: deviceChain(certificate, ca), privateKeyPem: certificate.privateKeyPem };
        const files = new DirectoryFiles(dir);
        await files.write(FILES.certificate, old.certificatePem);
        await files.write(FILES.key, old.privateKeyPem);
        const first = await connectJitr(ctx, certificate, ca, spec.deviceId, 3);
        if (!first.connected) throw new Error(`rotation: ${spec.deviceId} was not provisioned by JITR: ${first.errors.join('; ')}`);
        return { ...spec, dir, oldCertificateId: certificate.certificateId, old, events: [], ended: [] };
      }),
    );

    await warm;
    // ---- the wave, started as the operator starts it ----
    const names = namesModule.namesFor(deployed.stack.service, deployed.stack.stage);
    const jobTemplateArn = await describeJobTemplateArn(iot, names.rotationJobTemplate);
    if (!jobTemplateArn) throw new Error(`rotation: no job template ${names.rotationJobTemplate} deployed`);
    const jobId = defaultJobId(new Date());
    const started = await startRotation(rotationStartDeps({ iot, registryTable, timeline, jobTemplateArn, actor }), {
      jobId,
      deviceIds: devices.map((d) => d.deviceId),
    });
    log(`rotation: rotate --devices ${started.queued.join(',')} → job ${jobId} ${started.job} from ${jobTemplateArn} for thing group ${started.thingGroup}`);

    const agent = (device: WaveDevice, files: DeviceFiles) =>
      new RotationAgent({ thingName: device.deviceId, files, connect: mqttConnector(endpoint), replyTimeoutMs: 10_000, onEvent: (event) => device.events.push(event) });
    const run = async (device: WaveDevice, files: DeviceFiles) => {
      try {
        await agent(device, files).run({ once: true });
        device.ended.push('done');
      } catch (error) {
        device.ended.push((error as Error).message);
      }
    };

    // ---- the online devices and the one that loses power; the offline one has no agent running ----
    const online = devices.filter((d) => d.role !== 'offline');
    await Promise.all(online.map((d) => run(d, d.role === 'silent' ? new PowerCutAfterCertificate(new DirectoryFiles(d.dir)) : new DirectoryFiles(d.dir))));
    await core.idle();
    for (const d of devices.filter((d) => d.role === 'online')) await until(core, () => rotationOf(registry, d.deviceId), (r) => r?.retirementScheduledAt !== undefined);

    // ---- the silent device never confirms: its execution times out, the backend rolls back ----
    const silent = devices.find((d) => d.role === 'silent')!;
    const timeout = (await iot.send(new DescribeJobCommand({ jobId }))).job?.timeoutConfig?.inProgressTimeoutInMinutes;
    if (timeout === undefined) throw new Error(`rotation: job ${jobId} has no in-progress timeout (the template's timeoutConfig)`);
    log(`rotation: ${silent.deviceId} lost power after receiving its certificate; the local IoT Core's clock moves ${timeout} min + 1 s (the template's inProgressTimeoutInMinutes)`);
    ctx.advanceClock(timeout * MINUTE_MS + 1_000);
    await until(core, () => rotationOf(registry, silent.deviceId), (r) => r?.state === 'rolled-back');
    // Power back: the agent resumes, the new pair is refused (REVOKED), it falls back to the old one.
    await run(silent, new DirectoryFiles(silent.dir));

    // ---- the offline device comes back ----
    const offline = devices.find((d) => d.role === 'offline')!;
    offline.executionWhileAway = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: offline.deviceId }))).execution?.status;
    await run(offline, new DirectoryFiles(offline.dir));
    await until(core, () => rotationOf(registry, offline.deviceId), (r) => r?.retirementScheduledAt !== undefined);
    await core.idle(); // the grace passes: retireCertificate sets the old certificates INACTIVE

    log(`rotation: the wave over ${devices.length} devices took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const status = await rotationStatus(rotationStatusDeps({ iot, registryTable, timeline }), jobId);
    for (const line of formatRotationStatus(jobId, status, `local ${core.endpoints.accountId}`)) log(`rotation: rotate status  ${line}`);

    const rows: SandboxRow[] = [];
    for (const device of devices) rows.push(await rowOf(ctx, device, jobId));
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function rotationOf(registry: DynamoDeviceRegistry, deviceId: string): Promise<Rotation | undefined> {
  return (await registry.get(deviceId))?.rotation;
}

/** Polls (after letting the local IoT Core run what is due) until `holds`; 20 s at most. */
async function until<T>(core: LocalIotCore, read: () => Promise<T>, holds: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    await core.idle();
    const value = await read();
    if (holds(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

/** Whether the pair connects as the thing (one attempt, then disconnects). */
async function connects(endpoint: Endpoint, identity: Identity | undefined, clientId: string): Promise<boolean> {
  if (!identity) return false;
  const { client } = await connectOnce(endpoint, identity, clientId, 5_000);
  if (!client) return false;
  await disconnect(client);
  return true;
}

/** The pair in the device's files: what its agent connects with now. */
async function currentPair(dir: string): Promise<Identity | undefined> {
  const files = new DirectoryFiles(dir);
  const [certificatePem, privateKeyPem] = await Promise.all([files.read(FILES.certificate), files.read(FILES.key)]);
  return certificatePem && privateKeyPem ? { certificatePem, privateKeyPem } : undefined;
}

const agentStory = (device: WaveDevice): string => {
  const phases = device.events.filter((e): e is Extract<AgentEvent, { event: 'phase' }> => e.event === 'phase').map((e) => e.phase);
  const reported = device.events.filter((e): e is Extract<AgentEvent, { event: 'reported' }> => e.event === 'reported').map((e) => e.status);
  if (device.role === 'silent') return `power lost at ${phases.includes('certificate-received') ? 'certificate-received' : phases.at(-1) ?? '?'}`;
  return `${phases.includes('committed') ? 'rotated' : `stopped at ${phases.at(-1) ?? '?'}`}${reported.length ? `, reported ${reported.join('/')}` : ''}`;
};

async function rowOf(ctx: RotationContext, device: WaveDevice, jobId: string): Promise<SandboxRow> {
  const entry = await ctx.registry.get(device.deviceId);
  const rotation = entry?.rotation?.jobId === jobId ? entry.rotation : undefined;
  const newId = rotation?.newCertificateId;
  const [next, old] = await Promise.all([ctx.describe(newId), ctx.describe(device.oldCertificateId)]);
  const bound = entry?.certificateId === newId ? next : old;
  // The device's own files after the agent (certificate.pem is what it connects with), and the pair it had before.
  const pair = await currentPair(device.dir);
  const holdsNew = pair !== undefined && pair.certificatePem !== device.old.certificatePem;
  const current = await connects(ctx.endpoint, pair, device.deviceId);
  const oldConnects = holdsNew ? await connects(ctx.endpoint, device.old, device.deviceId) : current;
  const base = { flow: 'rotation' as const, device: device.label, deviceId: device.deviceId, thing: bound.thing };
  const certificateStatus = `new ${next.status}, old ${old.status}`;

  if (device.role === 'silent') {
    const fellBack = device.events.some((e) => e.event === 'refused' && e.with === 'new') && device.events.at(-1)?.event !== 'refused';
    return {
      ...base,
      outcome: rotation?.state === 'rolled-back' ? 'rolled back' : (rotation?.state ?? 'no rotation'),
      reason: rotation?.reason ?? '—',
      certificateStatus,
      mqtt: `${agentStory(device)}; restarted: new refused, ${current ? 'in with old' : 'old refused'}`,
      asExpected:
        rotation?.state === 'rolled-back' &&
        rotation.reason === 'TIMED_OUT' &&
        next.status === 'REVOKED' &&
        next.thing === '—' &&
        old.status === 'ACTIVE' &&
        entry?.certificateId === device.oldCertificateId &&
        device.ended.join() === 'power lost,done' &&
        fellBack &&
        current &&
        !holdsNew,
    };
  }
  return {
    ...base,
    outcome: rotation?.state ?? 'no rotation',
    reason: rotation?.jobStatus ? `job ${rotation.jobStatus}` : (rotation?.reason ?? '—'),
    certificateStatus,
    mqtt: `${device.role === 'offline' ? `offline in the wave (${device.executionWhileAway ?? '?'}), then ` : ''}${agentStory(device)}; ${current ? 'in with new' : 'new refused'}, ${oldConnects ? 'old still in' : 'old refused'}`,
    asExpected:
      rotation?.state === 'committed' &&
      device.ended.join() === 'done' &&
      (device.role !== 'offline' || device.executionWhileAway === 'QUEUED') &&
      next.status === 'ACTIVE' &&
      old.status === 'INACTIVE' &&
      old.thing === '—' &&
      entry?.certificateId === newId &&
      current &&
      holdsNew &&
      !oldConnects,
  };
}
