import { setMaxListeners } from 'node:events';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { DeviceFiles } from '../device/atomic-files';
import { FILES, RotationAgent, type AgentEvent } from '../device/rotation-agent';
import { inProcessConnector } from '../local/in-process-connector';
import { startStackHarness, type StackHarness } from '../local/stack-harness';
import { WorkerRuntime } from '../local/lambda/worker-runtime';
import { deviceChain } from '../lib/pki';
import { bindCalls } from '../shared/aws/bind-calls';
import { iotCalls } from '../shared/aws/iot/calls';
import {
  createRotationJob,
  createThingGroup,
  describeJobTemplateArn,
  describeRotationJob,
  enableJobExecutionEvents,
  jobExecutionEventsEnabled,
} from '../shared/aws/iot/rotation-jobs';
import { addThingToThingGroup } from '../shared/aws/iot/things';
import { getDevice } from '../shared/aws/registry/entries';
import { queueRotation } from '../shared/aws/registry/rotation-start';
import { appendTimelineEvent } from '../shared/aws/timeline/events';
import { startRotation } from '../shared/rotation/start';
import { createDocumentClient } from '../shared/aws/clients';
import namesModule = require('../resources/names.cjs');
import { bindingQuota, makeDevices, sustainedRate, type BurstResult } from './burst';
import { bundleForBench } from './bundle';

/**
 * The rotation wave: N devices, already provisioned (bound, ACTIVE, the device policy attached — set up before
 * the clock with the quotas off, not measured), each running the real rotation agent (device/rotation-agent.ts)
 * connected to the local broker through `inProcessConnector` (the same CONNECT decision, policy checks and
 * lifecycle events as over TLS, without 2N handshakes on two cores). The backend is the stack's, as deployed
 * (`stackBackend`: the start of cli/rotate.ts, rotateCertificate, rotationEvents, retireCertificate, each with its
 * role). The operator starts one rotation for all of them with the production rollout (design §2: `maximumPerMinute` 150 = r 2.5 devices/s); time runs `timeScale`×
 * faster for the quotas (local/iot-core/traffic.ts, AWS's defaults, on), Lambda's delays and the Jobs' minutes
 * alike (JobsService.setTimeScale). Measured in AWS time:
 *
 * - rotations committed per second, overall and sustained (10th → 90th percentile commit), against the binding
 *   quota (design §2 as built: DescribeCertificate 10 TPS ÷ 3 calls per rotated device = 3.3/s) and the rollout limit;
 * - devices lost: neither committed nor rolled back with a reason at the end (must be 0);
 * - devices without a working certificate, sampled every AWS second: a device is fine when at least one
 *   certificate it holds on its disk, with the matching key, is ACTIVE, attached to its thing and carries the
 *   device policy (must be 0 at every sample);
 * - throttled calls (each retried by the SDK or by Lambda's retries), IoT calls per rotation, wall time.
 */

export interface RotationWaveOptions {
  devices: number;
  timeScale: number;
  /** Rollout rate, devices notified per AWS minute (stage parameter rotationMaximumPerMinute; default the stack's, 100: design §2). */
  maximumPerMinute?: number;
  /** Concurrent executions of each backend function (the CSR function's reserved concurrency). */
  concurrency?: number;
  /** The grace period before a rotated-out certificate is retired (stage parameter retireGraceSeconds; default the stack's, 300 s). */
  retireGraceSeconds?: number;
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
  /** Committed devices whose old certificate ended INACTIVE (retired after the grace period) and whose new one is ACTIVE. */
  retiredOld: number;
  /** Rolled-back devices whose new certificate, if one was issued, ended REVOKED while the old one stayed ACTIVE. */
  revokedNew: number;
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
  /** Calls of the CSR step, the commit, the retirement and roll backs, per committed device (the start's are in startCalls). */
  callsPerRotation: number;
  /** The start's calls (thing group, AddThingToThingGroup per device, event configuration, job). */
  startCalls: Record<string, number>;
  /** The job's status at the end (an abort shows as CANCELED with its reason code). */
  jobStatus: string;
  /** Lost devices by the state their rotation was left in (queued: never notified, e.g. after an abort). */
  stillOpen: Record<string, number>;
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
  // As built (design §2 "Calls per rotated device, as built"): the current key's, the commit's check of the new
  // certificate, and the retirement's DescribeCertificate make 3, which binds (10/3 = 3.3/s) before UpdateCertificate (10/2).
  DescribeCertificate: 3,
  UpdateCertificate: 2,
  DescribeJobExecution: 1,
  CreateCertificateFromCsr: 1,
  AttachPolicy: 1,
  AttachThingPrincipal: 1,
  ListPrincipalThings: 1,
  DetachThingPrincipal: 1,
};

/** The start's operations (shared/rotation/start.ts): once per wave, or once per device for the thing group. */
const START_CALLS = new Set(['DescribeJobTemplate', 'CreateThingGroup', 'AddThingToThingGroup', 'DescribeEventConfigurations', 'UpdateEventConfigurations', 'CreateJob', 'DescribeJob']);

/** The functions the wave runs, by serverless.yml name → folder: JITR for the set-up, then the rotation's. */
const WAVE_FUNCTIONS = {
  activateCertificate: 'activate-certificate',
  rotateCertificate: 'rotate-certificate',
  rotationEvents: 'rotation-events',
  retireCertificate: 'retire-certificate',
} as const;

/** The stack's rollout rate by default (stage parameter rotationMaximumPerMinute; design §2: 100 devices notified per minute). */
export const DEFAULT_MAXIMUM_PER_MINUTE = 100;

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
  state: 'committed' | 'rolled-back' | 'refused' | 'queued' | 'issuing' | 'issued' | 'none';
  /** Epoch ms of the commit. */
  committedAt?: number;
  reason?: string;
  previousCertificateId?: string;
  newCertificateId?: string;
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
        // principalsOf (the thing's principals) is a lookup; thingsOf (the certificate's things) scans every thing.
        account.things.principalsOf(device.thingName).includes(certificate.certificateArn) &&
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
 * The stack's rotation backend: the start as the operator's `rotate` makes it (shared/rotation/start.ts with the
 * CLI's adapters, cli/rotate.ts), the CSR step and the commit / roll back as deployed (rotateCertificate,
 * rotationEvents, with their roles); where each device ended is read from the registry's `rotation` map.
 */
function stackBackend(stack: StackHarness, timeScale: number): WaveBackend {
  const { iot } = stack;
  const names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
  const documents = createDocumentClient();
  const registryTable = { client: documents, tableName: stack.deployed.tableName };
  const timelineTable = { client: documents, tableName: stack.deployed.timelineTableName };
  return {
    async start(things) {
      const jobTemplateArn = await describeJobTemplateArn(iot, names.rotationJobTemplate);
      if (!jobTemplateArn) throw new Error(`no job template ${names.rotationJobTemplate} in the deployed stack`);
      const jobId = `rotate-bench-${Date.now()}`;
      const result = await startRotation(
        {
          registry: bindCalls(registryTable, { get: getDevice, queueRotation }),
          iot: {
            ...iotCalls(iot, { createThingGroup, jobExecutionEventsEnabled, enableJobExecutionEvents, createRotationJob, describeRotationJob }),
            addThingToThingGroup: (thing, group) => addThingToThingGroup(iot, thing, group),
          },
          timeline: bindCalls(timelineTable, { append: appendTimelineEvent }),
          jobTemplateArn,
          actor: { kind: 'cli', id: 'bench' },
          now: () => new Date(),
          // Its pace is a share of AddThingToThingGroup's quota: scaled like the quotas.
          devicesPerSecond: 50 * timeScale,
        },
        { jobId, deviceIds: things },
      );
      if (result.leftOut.length) throw new Error(`the start left out ${result.leftOut.length} devices: ${JSON.stringify(result.leftOut.slice(0, 3))}`);
      return jobId;
    },
    async outcomes(things) {
      const outcomes = new Map<string, RotationOutcome>();
      for (let i = 0; i < things.length; i += 25) {
        await Promise.all(
          things.slice(i, i + 25).map(async (thing) => {
            const rotation = (await getDevice(registryTable, thing))?.rotation;
            if (!rotation) return void outcomes.set(thing, { state: 'none' });
            const state = rotation.state;
            outcomes.set(thing, {
              state,
              ...(rotation.committedAt ? { committedAt: Date.parse(rotation.committedAt) } : {}),
              ...(rotation.reason ? { reason: rotation.reason } : {}),
              previousCertificateId: rotation.previousCertificateId,
              ...(rotation.newCertificateId ? { newCertificateId: rotation.newCertificateId } : {}),
            });
          }),
        );
      }
      return outcomes;
    },
  };
}

export async function runRotationWave(options: RotationWaveOptions): Promise<RotationWaveResult> {
  const { timeScale } = options;
  const progress = options.onProgress ?? (() => {});
  const concurrency = options.concurrency ?? 10;
  const given = options.maximumPerMinute;
  const setupStarted = performance.now();
  // Lambda runs bundles: so do the bench's containers (a TypeScript source costs each one seconds of tsx).
  const modules: Record<string, { modulePath: string; exportName: string }> = {};
  for (const [name, folder] of Object.entries(WAVE_FUNCTIONS)) modules[name] = { modulePath: await bundleForBench(`functions/${folder}/handler.ts`, folder), exportName: 'handler' };
  const stack = await startStackHarness({
    core: {
      traffic: { timeScale, throttling: true },
      lambdaTimeScale: timeScale,
      lambdaConcurrency: concurrency,
      mqtt: { port: 0 },
    },
    deploy: {
      modules,
      params: {
        // The job template's rollout (resources/rotation.cjs), as a stage would set it.
        ...(given !== undefined ? { rotationMaximumPerMinute: String(given), ...(given < 10 ? { rotationBaseRatePerMinute: String(given) } : {}) } : {}),
        ...(options.retireGraceSeconds !== undefined ? { retireGraceSeconds: String(options.retireGraceSeconds) } : {}),
      },
    },
  });
  // The rollout as deployed (resources/rotation.cjs reads the stage parameter).
  const perMinute = Number(stack.deployed.stack.params.rotationMaximumPerMinute ?? DEFAULT_MAXIMUM_PER_MINUTE);
  const agents: Array<Promise<void>> = [];
  const stop = new AbortController();
  // Each waiting agent listens for the stop: thousands of listeners on one signal are the point here.
  setMaxListeners(0, stop.signal);
  try {
    const { core, registry } = stack;
    const account = core.defaultAccount;
    // Containers start before the clock (cold start has its own section of the report).
    for (const name of Object.keys(WAVE_FUNCTIONS)) await (stack.deployed.runtimes.get(name) as WorkerRuntime | undefined)?.prestart(name === 'activateCertificate' ? concurrency : 2);

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
    const backend = stackBackend(stack, timeScale);

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
        // The agent's own 30 s answer timeout, not scaled: what it waits for is the backend's latency (queueing
        // behind the CSR function's reserved concurrency, each invocation's calls), which runs in real time here as
        // on AWS. Scaled, it would give the backend half the time AWS gives it.
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
      // A canceled (aborted) job: its executions in progress carry on (local Jobs, CancelJob without force).
      const pending = () => {
        const details = account.jobs.describeJob(jobId).jobProcessDetails;
        return (details.numberOfQueuedThings ?? 0) + (details.numberOfInProgressThings ?? 0);
      };
      const done = job?.status === 'COMPLETED' || (job?.status === 'CANCELED' && pending() === 0);
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
    const stillOpen: Record<string, number> = {};
    let retiredOld = 0;
    let revokedNew = 0;
    const statusOf = (id: string | undefined) => (id ? account.certificates.find(id)?.status : undefined);
    for (const outcome of outcomes.values()) {
      if (outcome.state === 'committed') {
        commits.push(((outcome.committedAt! - startedAt - performance.timeOrigin) / 1000) * timeScale);
        if (statusOf(outcome.previousCertificateId) === 'INACTIVE' && statusOf(outcome.newCertificateId) === 'ACTIVE') retiredOld++;
      } else if ((outcome.state === 'rolled-back' || outcome.state === 'refused') && outcome.reason) {
        rolledBack++;
        reasons[outcome.reason] = (reasons[outcome.reason] ?? 0) + 1;
        if (statusOf(outcome.previousCertificateId) === 'ACTIVE' && (!outcome.newCertificateId || statusOf(outcome.newCertificateId) === 'REVOKED')) revokedNew++;
      } else {
        lost++;
        stillOpen[outcome.state] = (stillOpen[outcome.state] ?? 0) + 1;
      }
    }
    const job = account.jobs.jobOf(jobId);
    commits.sort((a, b) => a - b);
    const stats = core.traffic.stats;
    const answered: Record<string, number> = {};
    const started: Record<string, number> = {};
    for (const [operation, calls] of Object.entries(stats.calls)) {
      const ok = calls - (stats.throttled[operation] ?? 0) - (stats.faults[operation] ?? 0);
      if (ok > 0) (START_CALLS.has(operation) ? started : answered)[operation] = ok;
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
      retiredOld,
      revokedNew,
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
      startCalls: started,
      jobStatus: `${job?.status ?? 'gone'}${job?.reasonCode ? ` (${job.reasonCode})` : ''}`,
      stillOpen,
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
    row('old certificate INACTIVE after the grace, new ACTIVE (committed) · new REVOKED, old ACTIVE (rolled back)', dash, `${wave.retiredOld} of ${wave.committed} · ${wave.revokedNew} of ${wave.rolledBack}`),
    row('**lost** (neither done nor failed with a reason)', String(burst?.lost), `**${wave.lost}**${wave.lost ? ` (rotation left ${Object.entries(wave.stillOpen).map(([state, n]) => `${state} ${n}`).join(', ')})` : ''}`),
    row('the job at the end', dash, wave.jobStatus),
    row('**devices without a working certificate at any moment**', dash, `**${wave.withoutWorkingCertificate}** (${wave.samples} samples, one per AWS second; worst sample ${wave.worstSample})`),
    row('binding quota of the workflow', burst ? `${burst.bindingQuota.perSecond}/s (${burst.bindingQuota.operation})` : '', `${wave.bindingQuota.perSecond.toFixed(2)}/s (${wave.bindingQuota.operation}, ${ROTATION_CALLS[wave.bindingQuota.operation]} calls per rotated device)`),
    row('rollout limit', dash, `${wave.maximumPerMinute}/min = ${wave.rolloutPerSecond.toFixed(2)}/s = ${(wave.rolloutPerSecond / wave.bindingQuota.perSecond).toFixed(2)} of the quota`),
    row('rate (devices/s, start → last)', burst ? ratio(burst.ratePerSecond, burst.bindingQuota.perSecond) : '', ratio(wave.ratePerSecond, wave.bindingQuota.perSecond)),
    row('sustained rate (10th → 90th percentile)', burst ? ratio(burst.sustainedRatePerSecond, burst.bindingQuota.perSecond) : '', ratio(wave.sustainedRatePerSecond, wave.bindingQuota.perSecond)),
    row('IoT calls answered per device', burst ? burst.callsPerDevice.toFixed(2) : '', `${wave.callsPerRotation.toFixed(2)} (${Object.entries(wave.callsByOperation).map(([op, n]) => `${op} ${n}`).join(', ')}; the start: ${Object.values(wave.startCalls).reduce((a, b) => a + b, 0)})`),
    row('ThrottlingExceptions (retried by the SDK or by Lambda\'s retries)', String(burst?.throttledCalls), `${wave.throttledCalls}${wave.throttledCalls ? ` (${Object.entries(wave.throttledByOperation).map(([op, n]) => `${op} ${n}`).join(', ')})` : ''}`),
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
  const grace = process.argv.find((a) => a.startsWith('--retire-grace-seconds='));
  runRotationWave({
    devices: arg('devices', 100),
    timeScale: arg('time-scale', 2),
    ...(process.argv.some((a) => a.startsWith('--maximum-per-minute=')) ? { maximumPerMinute: arg('maximum-per-minute', DEFAULT_MAXIMUM_PER_MINUTE) } : {}),
    ...(grace ? { retireGraceSeconds: arg('retire-grace-seconds', 300) } : {}),
    onProgress: console.log,
  })
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
