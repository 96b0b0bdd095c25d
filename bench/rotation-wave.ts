import { setMaxListeners } from 'node:events';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateJobCommand,
  UpdateCertificateCommand,
  UpdateEventConfigurationsCommand,
  AddThingToThingGroupCommand,
  CreateThingGroupCommand,
} from '@aws-sdk/client-iot';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { DeviceFiles } from '../device/atomic-files';
import { FILES, RotationAgent, type AgentEvent } from '../device/rotation-agent';
import { inProcessConnector } from '../local/in-process-connector';
import { startStackHarness, type StackHarness } from '../local/stack-harness';
import { WorkerRuntime } from '../local/lambda/worker-runtime';
import { deviceChain } from '../lib/pki';
import { ROTATION_OPERATION, certificateTopic } from '../shared/rotation/model';
import { bindingQuota, makeDevices, sustainedRate, type BurstResult } from './burst';
import { bundleForBench } from './bundle';

/**
 * The rotation wave: N devices, already provisioned (bound, ACTIVE, the device policy attached — set up before
 * the clock with the quotas off, not measured), each running the real rotation agent (device/rotation-agent.ts)
 * connected to the local broker through `inProcessConnector` (the same CONNECT decision, policy checks and
 * lifecycle events as over TLS, without 2N handshakes on two cores). The operator starts one rotation for all of
 * them with the production rollout (design §2: `maximumPerMinute` 150 = r 2.5 devices/s); time runs `timeScale`×
 * faster for the quotas (local/iot-core/traffic.ts, AWS's defaults, on), Lambda's delays and the Jobs' minutes
 * alike (JobsService.setTimeScale). Measured in AWS time:
 *
 * - rotations committed per second, overall and sustained (10th → 90th percentile commit), against the binding
 *   quota (design §2: UpdateCertificate 10 TPS ÷ 2 calls per rotated device = 5/s) and the rollout limit;
 * - devices lost: neither committed nor rolled back with a reason at the end (must be 0);
 * - devices without a working certificate, sampled every AWS second: a device is fine when at least one
 *   certificate it holds on its disk, with the matching key, is ACTIVE, attached to its thing and carries the
 *   device policy (must be 0 at every sample);
 * - throttled calls (each retried by the SDK or by Lambda's retries), IoT calls per rotation, wall time.
 */

export interface RotationWaveOptions {
  devices: number;
  timeScale: number;
  /** Rollout rate, devices notified per AWS minute (default 150: design §2). */
  maximumPerMinute?: number;
  /** Concurrent executions of each backend function (the CSR function's reserved concurrency). */
  concurrency?: number;
  /** The wave gives up this long after its start (AWS s; default: three times the rollout's length + 10 min). */
  deadlineSeconds?: number;
  onProgress?: (line: string) => void;
}

export interface RotationWaveResult {
  devices: number;
  timeScale: number;
  maximumPerMinute: number;
  committed: number;
  rolledBack: number;
  /** Rolled back or refused, by reason. */
  reasons: Record<string, number>;
  /** Neither committed nor rolled back with a reason at the end. */
  lost: number;
  /** Devices that lacked a working certificate in at least one sample. */
  withoutWorkingCertificate: number;
  /** The most devices without one in a single sample. */
  worstSample: number;
  samples: number;
  /** AWS s from the wave's start to the last commit. */
  rotationSeconds: number;
  ratePerSecond: number;
  sustainedRatePerSecond: number;
  /** The rollout's limit in devices/s (maximumPerMinute ÷ 60). */
  rolloutPerSecond: number;
  bindingQuota: { perSecond: number; operation: string };
  callsPerRotation: number;
  callsByOperation: Record<string, number>;
  throttledCalls: number;
  throttledByOperation: Record<string, number>;
  /** Lambda invocations that ended in the on-failure destination. */
  inFailureQueue: number;
  /** Agents that stopped on an error they do not retry. */
  agentErrors: number;
  /** AWS s from the wave's start until every device was done and the backend idle. */
  wallSeconds: number;
  realSeconds: number;
  /** Real s spent provisioning the devices before the clock (not part of the wave). */
  setupSeconds: number;
  /** Commits per AWS second, for the chart. */
  timeline: Array<{ second: number; committed: number }>;
}

/**
 * The IoT calls one rotated device costs (design §2 "Calls per rotated device": the CSR step, then the old
 * certificate's retirement after the grace period), from which the binding quota follows.
 */
export const ROTATION_CALLS: Record<string, number> = {
  // First of the two 5/s terms: the design names UpdateCertificate the binding quota (DescribeCertificate drops
  // to one call once the binding records the key's hash).
  UpdateCertificate: 2,
  DescribeCertificate: 2,
  CreateCertificateFromCsr: 1,
  AttachPolicy: 1,
  AttachThingPrincipal: 1,
  ListPrincipalThings: 1,
  DetachThingPrincipal: 1,
};

/** The design's rollout rate (design §2): 150 devices notified per minute. */
export const DEFAULT_MAXIMUM_PER_MINUTE = 150;

/** A device's files in memory: written whole, as atomic-files.ts writes them on a device (the sampler reads them). */
export class MemoryFiles implements DeviceFiles {
  readonly files = new Map<string, string>();
  async read(name: string): Promise<string | undefined> {
    return this.files.get(name);
  }
  async write(name: string, data: string): Promise<void> {
    this.files.set(name, data);
  }
  async rename(from: string, to: string): Promise<void> {
    const data = this.files.get(from);
    if (data === undefined) return;
    this.files.set(to, data);
    this.files.delete(from);
  }
  async remove(name: string): Promise<void> {
    this.files.delete(name);
  }
}

interface WaveDevice {
  thingName: string;
  files: MemoryFiles;
}

/** Where a device's rotation ended, as the backend records it. */
export interface RotationOutcome {
  state: 'committed' | 'rolled-back' | 'refused' | 'open' | 'none';
  /** Epoch ms of the commit. */
  committedAt?: number;
  reason?: string;
}

/** The backend under measurement: it starts the wave (S0) and says where each device's rotation ended. */
interface WaveBackend {
  start(things: string[], maximumPerMinute: number): Promise<string>;
  outcomes(things: string[]): Promise<Map<string, RotationOutcome>>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

/**
 * Whether each device holds a working certificate right now: one of the certificates on its disk (current or
 * .next), with one of the keys on its disk, ACTIVE, attached to its thing, with the device policy. Read from the
 * local IoT Core's registry and the devices' files in one turn of the event loop: a consistent snapshot.
 */
export class WorkingCertificateSampler {
  private readonly ids = new Map<string, string>();
  private readonly pairs = new Map<string, boolean>();
  readonly without = new Set<string>();
  worst = 0;
  samples = 0;

  constructor(
    private readonly stack: StackHarness,
    private readonly devices: readonly WaveDevice[],
  ) {}

  private idOf(pem: string): string {
    let id = this.ids.get(pem);
    if (!id) this.ids.set(pem, (id = createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')));
    return id;
  }

  private matches(certificatePem: string, keyPem: string): boolean {
    const key = `${this.idOf(certificatePem)}\n${keyPem}`;
    let result = this.pairs.get(key);
    if (result === undefined) {
      try {
        result = new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(keyPem));
      } catch {
        result = false;
      }
      this.pairs.set(key, result);
    }
    return result;
  }

  hasWorkingCertificate(device: WaveDevice): boolean {
    const account = this.stack.core.defaultAccount;
    const policy = this.stack.deployed.devicePolicyName;
    const certificates = [device.files.files.get(FILES.certificate), device.files.files.get(FILES.nextCertificate)].filter((p): p is string => p !== undefined);
    const keys = [device.files.files.get(FILES.key), device.files.files.get(FILES.nextKey)].filter((p): p is string => p !== undefined);
    return certificates.some((pem) => {
      const certificate = account.certificates.find(this.idOf(pem));
      return (
        certificate?.status === 'ACTIVE' &&
        account.things.thingsOf(certificate.certificateArn).some((t) => t.thingName === device.thingName) &&
        account.policies.attachedTo(certificate.certificateArn).some((p) => p.policyName === policy) &&
        keys.some((key) => this.matches(pem, key))
      );
    });
  }

  sample(): number {
    let missing = 0;
    for (const device of this.devices) {
      if (this.hasWorkingCertificate(device)) continue;
      missing++;
      this.without.add(device.thingName);
    }
    this.samples++;
    this.worst = Math.max(this.worst, missing);
    return missing;
  }
}

/**
 * STAND-IN for the rotation backend (S0 start, S1 CSR, S2 commit, S3 roll back), until the real one lands on
 * main ("Rotation backend merged"); removed then. It makes the same IoT calls against the same quotas (design
 * §1: CreateCertificateFromCsr, AttachPolicy, AttachThingPrincipal, UpdateCertificate ACTIVE; commit on
 * SUCCEEDED + the new certificate's connected event, the old one INACTIVE at once; roll back = new REVOKED),
 * keeps its state in memory, and has no registry, grace period or idempotency of its own.
 */
async function standInBackend(stack: StackHarness, options: { concurrency: number }): Promise<WaveBackend> {
  const { core, iot } = stack;
  const { region, accountId } = core.endpoints;
  const account = core.defaultAccount;
  const devicePolicy = stack.deployed.devicePolicyName;
  interface Open {
    jobId: string;
    previousCertificateId: string;
    newCertificateId?: string;
    connected?: boolean;
    succeeded?: boolean;
    outcome?: RotationOutcome;
  }
  const rotations = new Map<string, Open>();
  const commitIfBoth = async (thing: string, rotation: Open) => {
    if (!rotation.connected || !rotation.succeeded || rotation.outcome) return;
    await iot.send(new UpdateCertificateCommand({ certificateId: rotation.previousCertificateId, newStatus: 'INACTIVE' }));
    rotation.outcome = { state: 'committed', committedAt: Date.now() };
  };
  core.addFunction({
    functionName: 'rotation-stand-in-csr',
    maximumRetryAttempts: 2,
    handler: async (event) => {
      const { jobId, clientToken, csr } = event as { jobId: string; clientToken: string; csr: string };
      // The local rules engine has no topic() in SELECT yet: the stand-in takes the thing from the CSR's subject.
      const thingName = new x509.Pkcs10CertificateRequest(csr).subjectName.getField('CN')[0] ?? '';
      const rotation = rotations.get(thingName);
      if (!rotation || rotation.jobId !== jobId) return null;
      if (!rotation.newCertificateId) {
        const created = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: false }));
        rotation.newCertificateId = created.certificateId!;
      }
      const arn = account.arn(`cert/${rotation.newCertificateId}`);
      await iot.send(new AttachPolicyCommand({ policyName: devicePolicy, target: arn }));
      await iot.send(new AttachThingPrincipalCommand({ thingName, principal: arn }));
      await iot.send(new UpdateCertificateCommand({ certificateId: rotation.newCertificateId, newStatus: 'ACTIVE' }));
      const certificatePem = account.certificates.find(rotation.newCertificateId)!.x509.toString();
      core.mqtt!.deliver(account, certificateTopic(thingName), Buffer.from(JSON.stringify({ jobId, clientToken, certificatePem, certificateId: rotation.newCertificateId })), 1);
      return null;
    },
  });
  core.addFunction({
    functionName: 'rotation-stand-in-events',
    maximumRetryAttempts: 2,
    handler: async (event) => {
      const e = event as { eventType?: string; clientId?: string; principalIdentifier?: string; thingArn?: string; status?: string; jobId?: string; statusDetails?: { reason?: string } };
      if (e.eventType === 'connected') {
        const rotation = rotations.get(e.clientId ?? '');
        if (rotation && rotation.newCertificateId === e.principalIdentifier) {
          rotation.connected = true;
          await commitIfBoth(e.clientId!, rotation);
        }
        return null;
      }
      const thing = e.thingArn?.split('/').at(-1) ?? '';
      const rotation = rotations.get(thing);
      if (!rotation || rotation.jobId !== e.jobId || rotation.outcome) return null;
      if (e.status === 'SUCCEEDED') {
        rotation.succeeded = true;
        await commitIfBoth(thing, rotation);
      } else if (e.status && ['FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED', 'REMOVED'].includes(e.status)) {
        if (rotation.newCertificateId) await iot.send(new UpdateCertificateCommand({ certificateId: rotation.newCertificateId, newStatus: 'REVOKED' }));
        rotation.outcome = { state: 'rolled-back', reason: e.statusDetails?.reason ? `${e.status} ${e.statusDetails.reason}` : e.status };
      }
      return null;
    },
  });
  const arn = (name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`;
  core.addRule({
    ruleName: 'rotationStandInCsr',
    sql: "SELECT * FROM 'device/+/rotation/csr'",
    actions: [{ lambda: { functionArn: arn('rotation-stand-in-csr') } }],
  });
  core.addRule({ ruleName: 'rotationStandInPresence', sql: "SELECT * FROM '$aws/events/presence/connected/+'", actions: [{ lambda: { functionArn: arn('rotation-stand-in-events') } }] });
  core.addRule({ ruleName: 'rotationStandInJobs', sql: "SELECT * FROM '$aws/events/jobExecution/+/+'", actions: [{ lambda: { functionArn: arn('rotation-stand-in-events') } }] });
  void options;
  return {
    async start(things, maximumPerMinute) {
      const jobId = `rotate-bench-${Date.now()}`;
      for (const thing of things) {
        const bound = account.things.principalsOf(thing)[0]!;
        rotations.set(thing, { jobId, previousCertificateId: bound.split('/').at(-1)! });
      }
      await iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: true } } }));
      await iot.send(
        new CreateJobCommand({
          jobId,
          targets: [account.arn(`thinggroup/bench-rotation`)],
          document: JSON.stringify({ operation: ROTATION_OPERATION, keyAlgorithm: 'EC-P256' }),
          jobExecutionsRolloutConfig: { maximumPerMinute },
        }),
      );
      return jobId;
    },
    async outcomes(things) {
      return new Map(things.map((thing) => [thing, rotations.get(thing)?.outcome ?? { state: rotations.has(thing) ? 'open' : 'none' }]));
    },
  };
}

export async function runRotationWave(options: RotationWaveOptions): Promise<RotationWaveResult> {
  const { timeScale } = options;
  const progress = options.onProgress ?? (() => {});
  const concurrency = options.concurrency ?? 10;
  const perMinute = options.maximumPerMinute ?? DEFAULT_MAXIMUM_PER_MINUTE;
  const setupStarted = performance.now();
  const activate = await bundleForBench('functions/activate-certificate/handler.ts', 'activate-certificate');
  const stack = await startStackHarness({
    core: {
      traffic: { timeScale, throttling: true },
      lambdaTimeScale: timeScale,
      lambdaConcurrency: concurrency,
      mqtt: { port: 0 },
    },
    deploy: { modules: { activateCertificate: { modulePath: activate, exportName: 'handler' } } },
  });
  const agents: Array<Promise<void>> = [];
  const stop = new AbortController();
  // Each waiting agent listens for the stop: thousands of listeners on one signal are the point here.
  setMaxListeners(0, stop.signal);
  try {
    const { core, registry } = stack;
    const account = core.defaultAccount;
    const runtime = stack.deployed.runtimes.get('activateCertificate') as WorkerRuntime | undefined;
    await runtime?.prestart(concurrency);

    // Set-up, not measured: devices provisioned through JITR (the real activation function) with the quotas off.
    const ca = await stack.registerCa('Rotation bench CA');
    const certificates = await makeDevices(ca, options.devices, 'ROT');
    const things = certificates.map((_, i) => `ROT-${String(i).padStart(5, '0')}`);
    const at = new Date();
    for (let i = 0; i < things.length; i += 25) await Promise.all(things.slice(i, i + 25).map((id) => registry.allow(id, {}, at)));
    core.configureTraffic({ throttling: false });
    for (const [i, certificate] of certificates.entries()) {
      core.firstConnect(deviceChain(certificate, ca), stack.dataEndpoint);
      if (i % 25 === 24) await sleep(0);
    }
    await core.idle();
    const inactive = certificates.filter((c) => account.certificates.find(c.certificateId)?.status !== 'ACTIVE').length;
    if (inactive) throw new Error(`set-up: ${inactive} of ${certificates.length} devices did not become ACTIVE through JITR`);
    await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'bench-rotation' }));
    for (let i = 0; i < things.length; i += 25) {
      await Promise.all(things.slice(i, i + 25).map((thingName) => stack.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'bench-rotation', thingName }))));
    }
    const backend = await standInBackend(stack, { concurrency });

    // Every device's agent connected and waiting for its job before the clock.
    const devices: WaveDevice[] = certificates.map((certificate, i) => {
      const files = new MemoryFiles();
      files.files.set(FILES.certificate, deviceChain(certificate, ca));
      files.files.set(FILES.key, certificate.privateKeyPem);
      return { thingName: things[i]!, files };
    });
    const connect = inProcessConnector(core.mqtt!, { serverName: stack.dataEndpoint, timeoutMs: 30_000 });
    const reported = new Map<string, AgentEvent>();
    let agentErrors = 0;
    let waiting = 0;
    for (const device of devices) {
      const agent = new RotationAgent({
        thingName: device.thingName,
        files: device.files,
        connect,
        // The agent's 30 s answer timeout and its retry pause, in AWS time.
        replyTimeoutMs: 30_000 / timeScale,
        onEvent: (event) => {
          if (event.event === 'reported') reported.set(device.thingName, event);
          if (event.event === 'connected' && event.with === 'current') waiting++;
        },
      });
      agents.push(
        agent.run({ signal: stop.signal, retryDelayMs: 1_000 / timeScale }).catch((error: unknown) => {
          agentErrors++;
          progress(`  agent ${device.thingName}: ${(error as Error).message}`);
        }),
      );
      if (agents.length % 50 === 0) await sleep(5);
    }
    while (waiting < devices.length) await sleep(50);
    await core.idle();
    core.configureTraffic({ throttling: true });
    core.traffic.resetStats();
    const failuresBefore = core.failures.length;
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    progress(`  rotation: ${devices.length} devices provisioned and their agents connected in ${setupSeconds.toFixed(0)} s (set-up, not measured)`);

    // The clock starts with the operator's rotation.
    const sampler = new WorkingCertificateSampler(stack, devices);
    const startedAt = performance.now();
    const awsSeconds = () => ((performance.now() - startedAt) / 1000) * timeScale;
    // The job is created with the production rollout; the local Jobs' minutes run timeScale× faster, as the quotas do.
    account.jobs.setTimeScale(timeScale);
    const jobId = await backend.start(things, perMinute);
    const sampling = setInterval(() => sampler.sample(), 1_000 / timeScale);
    const deadlineSeconds = options.deadlineSeconds ?? (3 * devices.length * 60) / perMinute + 600;
    let lastLine = 0;
    for (;;) {
      await sleep(200);
      const job = account.jobs.jobOf(jobId);
      const done = job?.status === 'COMPLETED' || job?.status === 'CANCELED';
      if (performance.now() - lastLine > 5_000) {
        lastLine = performance.now();
        const succeeded = [...reported.values()].filter((r) => r.event === 'reported' && r.status === 'SUCCEEDED').length;
        progress(`  rotation: ${succeeded}/${devices.length} reported SUCCEEDED at ${awsSeconds().toFixed(0)} s (AWS time), ${sum(core.traffic.stats.throttled)} throttled calls, ${sampler.worst} worst without a working certificate`);
      }
      if (done || awsSeconds() > deadlineSeconds) break;
    }
    await core.idle();
    sampler.sample();
    clearInterval(sampling);
    const wallSeconds = awsSeconds();
    const realSeconds = (performance.now() - startedAt) / 1000;
    stop.abort();
    await Promise.all(agents);

    const outcomes = await backend.outcomes(things);
    const reasons: Record<string, number> = {};
    const commits: number[] = [];
    let rolledBack = 0;
    let lost = 0;
    for (const outcome of outcomes.values()) {
      if (outcome.state === 'committed') commits.push(((outcome.committedAt! - startedAt - performance.timeOrigin) / 1000) * timeScale);
      else if ((outcome.state === 'rolled-back' || outcome.state === 'refused') && outcome.reason) {
        rolledBack++;
        reasons[outcome.reason] = (reasons[outcome.reason] ?? 0) + 1;
      } else lost++;
    }
    commits.sort((a, b) => a - b);
    const stats = core.traffic.stats;
    const answered: Record<string, number> = {};
    for (const [operation, calls] of Object.entries(stats.calls)) {
      const ok = calls - (stats.throttled[operation] ?? 0) - (stats.faults[operation] ?? 0);
      if (ok > 0) answered[operation] = ok;
    }
    const rotationSeconds = commits.at(-1) ?? 0;
    const timeline: RotationWaveResult['timeline'] = [];
    for (let second = 0; second <= Math.ceil(rotationSeconds); second++) timeline.push({ second, committed: commits.filter((t) => t >= second && t < second + 1).length });
    return {
      devices: devices.length,
      timeScale,
      maximumPerMinute: perMinute,
      committed: commits.length,
      rolledBack,
      reasons,
      lost,
      withoutWorkingCertificate: sampler.without.size,
      worstSample: sampler.worst,
      samples: sampler.samples,
      rotationSeconds,
      ratePerSecond: rotationSeconds > 0 ? commits.length / rotationSeconds : 0,
      sustainedRatePerSecond: sustainedRate(commits),
      rolloutPerSecond: perMinute / 60,
      bindingQuota: bindingQuota(ROTATION_CALLS),
      callsPerRotation: commits.length > 0 ? sum(answered) / commits.length : 0,
      callsByOperation: answered,
      throttledCalls: sum(stats.throttled),
      throttledByOperation: { ...stats.throttled },
      inFailureQueue: core.failures.length - failuresBefore,
      agentErrors,
      wallSeconds,
      realSeconds,
      setupSeconds,
      timeline,
    };
  } finally {
    stop.abort();
    await Promise.all(agents);
    await stack.close();
  }
}

/**
 * The rotation wave beside the first-connect burst of our handler, row for row where the two measure the same
 * thing (devices, lost, rate against the binding quota, throttling, time), then the wave's own rows.
 */
export function rotationMarkdown(wave: RotationWaveResult, burst: BurstResult | undefined): string {
  const dash = '—';
  const row = (label: string, b: string, w: string) => (burst ? `| ${label} | ${b} | ${w} |` : `| ${label} | ${w} |`);
  const ratio = (rate: number, quota: number) => `${rate.toFixed(2)}/s = ${(rate / quota).toFixed(2)} of the quota`;
  const reasons = Object.entries(wave.reasons).map(([reason, n]) => `${reason} ${n}`).join(', ');
  const lines = [
    burst ? '| | first-connect burst (our handler) | rotation wave |' : '| | rotation wave |',
    burst ? '|---|---|---|' : '|---|---|',
    row('devices', String(burst?.devices), String(wave.devices)),
    row('done at the end', `${burst?.active} ACTIVE`, `${wave.committed} committed (new certificate bound, old INACTIVE)`),
    row('rolled back, with a reason', dash, `${wave.rolledBack}${reasons ? ` (${reasons})` : ''}`),
    row('**lost** (neither done nor failed with a reason)', String(burst?.lost), `**${wave.lost}**`),
    row('**devices without a working certificate at any moment**', dash, `**${wave.withoutWorkingCertificate}** (${wave.samples} samples, one per AWS second; worst sample ${wave.worstSample})`),
    row('binding quota of the workflow', burst ? `${burst.bindingQuota.perSecond}/s (${burst.bindingQuota.operation})` : '', `${wave.bindingQuota.perSecond}/s (${wave.bindingQuota.operation}, 2 calls per rotated device)`),
    row('rollout limit', dash, `${wave.maximumPerMinute}/min = ${wave.rolloutPerSecond.toFixed(2)}/s = ${(wave.rolloutPerSecond / wave.bindingQuota.perSecond).toFixed(2)} of the quota`),
    row('rate (devices/s, start → last)', burst ? ratio(burst.ratePerSecond, burst.bindingQuota.perSecond) : '', ratio(wave.ratePerSecond, wave.bindingQuota.perSecond)),
    row('sustained rate (10th → 90th percentile)', burst ? ratio(burst.sustainedRatePerSecond, burst.bindingQuota.perSecond) : '', ratio(wave.sustainedRatePerSecond, wave.bindingQuota.perSecond)),
    row('IoT calls answered per device', burst ? burst.callsPerDevice.toFixed(2) : '', wave.callsPerRotation.toFixed(2)),
    row('throttled calls (each retried)', String(burst?.throttledCalls), `${wave.throttledCalls}${wave.throttledCalls ? ` (${Object.entries(wave.throttledByOperation).map(([op, n]) => `${op} ${n}`).join(', ')})` : ''}`),
    row('in the on-failure destination', String(burst?.inFailureQueue), String(wave.inFailureQueue)),
    row('wall time (AWS s)', burst ? burst.wallSeconds.toFixed(0) : '', wave.wallSeconds.toFixed(0)),
    row('real time (s)', burst ? burst.realSeconds.toFixed(0) : '', `${wave.realSeconds.toFixed(0)} (+ ${wave.setupSeconds.toFixed(0)} s set-up, not measured)`),
  ];
  lines.push(
    '',
    `Goals (rotation wave): 0 lost — ${wave.lost === 0 ? 'met' : `**missed** (${wave.lost})`}; 0 devices without a working certificate — ` +
      `${wave.withoutWorkingCertificate === 0 ? 'met' : `**missed** (${wave.withoutWorkingCertificate})`}; ` +
      `sustained rate at the rollout limit (${wave.rolloutPerSecond.toFixed(2)}/s) — ${(wave.sustainedRatePerSecond / wave.rolloutPerSecond).toFixed(2)} of it.`,
  );
  return lines.join('\n');
}

if (require.main === module) {
  const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  runRotationWave({ devices: arg('devices', 100), timeScale: arg('time-scale', 2), maximumPerMinute: arg('maximum-per-minute', DEFAULT_MAXIMUM_PER_MINUTE), onProgress: console.log })
    .then((r) => {
      const { timeline, ...rest } = r;
      console.log(JSON.stringify(rest, null, 2));
      process.exit(0);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
