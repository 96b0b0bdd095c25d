import { backoffDelay, connectWithBackoff, disconnect } from '../device/mqtt-connection';
import { startStackHarness, type StackHarness } from '../local/stack-harness';
import type { AsyncLambda } from '../local/lambda/async-lambda';
import { WorkerRuntime } from '../local/lambda/worker-runtime';
import { DEFAULT_TPS, CERTIFICATE_REGISTRATIONS_PER_SECOND } from '../local/iot-core/traffic';
import { deviceChain, issueCertificate, type KeyedCertificate } from '../lib/pki';
import { bundleForBench } from './bundle';

/**
 * The burst: N devices with certificates from our CA make their first connect at the same moment, over
 * MQTT with mutual TLS, through the local IoT Core with AWS's default control-plane quotas on. Lambda runs
 * as AWS runs it for the topic rule: asynchronous invocations, a concurrency limit, two retries a minute and
 * two minutes apart, then the on-failure destination. `timeScale` speeds the whole run up uniformly: quotas
 * are multiplied by it; Lambda's retry delays, the devices' back-off and all reported times are divided by
 * it (figures are reported in AWS time). The AWS SDK's own retry back-off inside a handler is not scaled —
 * a scaled run is therefore slightly harder on both handlers than AWS would be.
 */

export type HandlerUnderTest = 'ours' | 'baseline';

export interface BurstOptions {
  devices: number;
  handler: HandlerUnderTest;
  timeScale: number;
  /** Concurrent executions of the JITR function (its reserved concurrency). */
  concurrency: number;
  /**
   * How devices reach the local IoT Core: `mqtt` is real MQTT over mutual TLS; `gateway` makes the same
   * first-connect decision (registration, its 15/s limit, the registered event, PENDING refusals) without
   * the TLS handshake — on 2 cores, thousands of handshakes would measure the machine, not the backend.
   */
  transport: 'mqtt' | 'gateway';
  /** A device gives up connecting after this long (AWS time). */
  deviceDeadlineSeconds?: number;
  onProgress?: (line: string) => void;
}

export interface BurstResult {
  handler: HandlerUnderTest;
  devices: number;
  timeScale: number;
  concurrency: number;
  /** Devices whose certificate ended ACTIVE. */
  active: number;
  connected: number;
  /** Not ACTIVE and not in the on-failure destination with a reason. */
  lost: number;
  /** Invocations that ended in the on-failure destination. */
  inFailureQueue: number;
  stuckPending: number;
  revokedOrInactive: number;
  /** AWS-time seconds from the first connect to the last activation. */
  provisioningSeconds: number;
  /** AWS-time seconds from the first connect until every device connected or gave up and Lambda was idle. */
  wallSeconds: number;
  realSeconds: number;
  ratePerSecond: number;
  /** Activations between the 10th and the 90th percentile ÷ the time between them: the rate once ramped up, before the tail. */
  sustainedRatePerSecond: number;
  bindingQuota: { perSecond: number; operation: string };
  /** IoT control-plane calls answered (not throttled, not failed) per activated device, by operation. */
  callsPerDevice: number;
  callsByOperation: Record<string, number>;
  throttledCalls: number;
  invocations: number;
  /** Activations ÷ time while at least `concurrency` registered certificates were waiting: the rate the handler reaches when the devices' reconnects are not what limits it. */
  saturatedRatePerSecond: number;
  saturatedSeconds: number;
  /** AWS-time seconds from the first connect to the last JITR registration: devices throttled at registration back off, and no handler can activate a certificate before it exists. */
  lastRegistrationSeconds: number;
  /** AWS-time seconds from the first connect to the first activation. */
  firstActivationSeconds: number;
  /** Activations and JITR registrations per AWS-time second, for the chart. */
  timeline: Array<{ second: number; activated: number; registered: number }>;
}

/** The quota that bounds the workflow: the lowest (quota ÷ calls per device) over the operations it makes. */
export function bindingQuota(callsPerDevice: Record<string, number>): { perSecond: number; operation: string } {
  let best = { perSecond: CERTIFICATE_REGISTRATIONS_PER_SECOND, operation: 'JITR registration' };
  for (const [operation, calls] of Object.entries(callsPerDevice)) {
    const tps = DEFAULT_TPS[operation];
    if (tps && calls > 0 && tps / calls < best.perSecond) best = { perSecond: tps / calls, operation };
  }
  return best;
}

/** The IoT calls each handler's workflow makes for one new device; the burst reports what it measured beside the quota this gives. */
export const WORKFLOW_CALLS: Record<HandlerUnderTest, Record<string, number>> = {
  ours: { DescribeCertificate: 1, CreateThing: 1, AttachPolicy: 1, AttachThingPrincipal: 1, UpdateCertificate: 1 },
  baseline: { AttachPrincipalPolicy: 1, UpdateCertificate: 1 },
};

interface Bench {
  stack: StackHarness;
  /** The JITR function the topic rule invokes (ours or the baseline). */
  jitr: AsyncLambda;
  ca: KeyedCertificate;
  allow: (deviceIds: string[]) => Promise<void>;
}

/** The stack harness with our CA registered; the JITR function replaced by the baseline when asked. */
export async function startBench(options: { handler: HandlerUnderTest; timeScale: number; concurrency: number; throttling?: boolean }): Promise<Bench> {
  // Lambda runs bundles: so do the bench's containers (a TypeScript source would cost each one seconds of tsx).
  const ours = await bundleForBench('functions/activate-certificate/handler.ts', 'activate-certificate');
  const stack = await startStackHarness({
    core: {
      traffic: { timeScale: options.timeScale, throttling: options.throttling ?? true },
      lambdaTimeScale: options.timeScale,
      lambdaConcurrency: options.concurrency,
      mqtt: { port: 0 },
    },
    deploy: { modules: { activateCertificate: { modulePath: ours, exportName: 'handler' } } },
  });
  const { core, deployed, registry } = stack;
  let jitr = deployed.functions.get('activateCertificate')!;
  let runtime = deployed.runtimes.get('activateCertificate')!;
  if (options.handler === 'baseline') {
    // Seed 001's Lambda in the same place: the rule invokes the same function name, now running its code.
    const fn = deployed.stack.functions.find((f) => f.name === 'activateCertificate')!;
    runtime = new WorkerRuntime({
      modulePath: await bundleForBench('bench/baseline/seed-001-handler.ts', 'seed-001'),
      exportName: 'handler',
      environment: { ...stack.sdkEnvironment, DEVICE_POLICY_NAME: deployed.devicePolicyName },
    });
    core.addRuntime(runtime);
    jitr = core.addFunction({ functionName: fn.functionName, handler: runtime.handler, maximumRetryAttempts: 2, timeoutSeconds: fn.timeoutSeconds });
  }
  // Containers start before the clock: ten at once on two cores take over a second, which AWS spreads over ten
  // machines (cold start has its own section of the report).
  await runtime.prestart(options.concurrency);
  return {
    stack,
    jitr,
    ca: await stack.registerCa('Bench CA'),
    async allow(deviceIds) {
      const at = new Date();
      for (let i = 0; i < deviceIds.length; i += 25) await Promise.all(deviceIds.slice(i, i + 25).map((id) => registry.allow(id, {}, at)));
    },
  };
}

export async function makeDevices(ca: KeyedCertificate, count: number, prefix: string): Promise<KeyedCertificate[]> {
  const devices: KeyedCertificate[] = [];
  for (let i = 0; i < count; i++) devices.push(await issueCertificate(ca, { subject: { serialNumber: `${prefix}-${String(i).padStart(5, '0')}` } }));
  return devices;
}

/** Activations between the 10th and 90th percentile ÷ the time between them. */
export function sustainedRate(sortedTimes: number[]): number {
  if (sortedTimes.length < 10) return 0;
  const from = Math.floor(sortedTimes.length * 0.1);
  const to = Math.floor(sortedTimes.length * 0.9);
  const span = sortedTimes[to]! - sortedTimes[from]!;
  return span > 0 ? (to - from) / span : 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

export async function runBurst(options: BurstOptions, prepared?: { devices: KeyedCertificate[] }): Promise<BurstResult> {
  const { timeScale } = options;
  const progress = options.onProgress ?? (() => {});
  const bench = await startBench(options);
  try {
    const prefix = options.handler === 'ours' ? 'BURST' : 'BASE';
    const devices = prepared?.devices ?? (await makeDevices(bench.ca, options.devices, prefix));
    const ids = devices.map((_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
    if (options.handler === 'ours') await bench.allow(ids);
    const { core } = bench.stack;
    const account = core.defaultAccount;
    core.traffic.resetStats();
    const failuresBefore = core.failures.length;

    const startedAt = performance.now();
    const awsSeconds = () => ((performance.now() - startedAt) / 1000) * timeScale;
    const activatedAt = new Map<string, number>();
    const registeredAt = new Map<string, number>();
    const ours = new Set(devices.map((d) => d.certificateId));
    // Time during which at least one certificate per concurrent execution was registered and waiting: the
    // handler, not the devices' reconnects, bounded the rate then.
    const saturated = { seconds: 0, activations: 0 };
    let previous = { at: 0, waiting: 0 };
    const sample = () => {
      const at = awsSeconds();
      let waiting = 0;
      let newlyActive = 0;
      for (const certificate of account.certificates.all()) {
        if (!ours.has(certificate.certificateId)) continue;
        if (!registeredAt.has(certificate.certificateId)) registeredAt.set(certificate.certificateId, at);
        if (certificate.status === 'PENDING_ACTIVATION') waiting++;
        if (certificate.status === 'ACTIVE' && !activatedAt.has(certificate.certificateId)) {
          activatedAt.set(certificate.certificateId, at);
          newlyActive++;
        }
      }
      if (previous.waiting >= options.concurrency) {
        saturated.seconds += at - previous.at;
        saturated.activations += newlyActive;
      }
      previous = { at, waiting };
    };
    const sampler = setInterval(sample, Math.max(5, 250 / timeScale));
    let lastLine = 0;
    const reporter = setInterval(() => {
      if (performance.now() - lastLine < 2_000) return;
      lastLine = performance.now();
      const throttled = sum(core.traffic.stats.throttled);
      progress(`  ${options.handler}: ${activatedAt.size}/${devices.length} ACTIVE at ${awsSeconds().toFixed(0)} s (AWS time), ${throttled} throttled calls so far`);
    }, 500);

    const deadline = Date.now() + ((options.deviceDeadlineSeconds ?? 900) * 1000) / timeScale;
    let connected = 0;
    const backoff = { initialDelayMs: 1_000 / timeScale, maxDelayMs: 128_000 / timeScale };
    if (options.transport === 'gateway') {
      const nextLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all(
        devices.map(async (device, i) => {
          const chain = deviceChain(device, bench.ca);
          // The first wave in slices of 25 with I/O between them, so that the control plane answers the handlers meanwhile.
          for (let slice = 0; slice < Math.floor(i / 25); slice++) await nextLoopTurn();
          for (let attempt = 1; Date.now() < deadline; attempt++) {
            if (core.firstConnect(chain, bench.stack.dataEndpoint).accepted) {
              connected++;
              return;
            }
            await sleep(Math.min(backoffDelay(attempt, backoff), Math.max(0, deadline - Date.now())));
          }
        }),
      );
    } else {
    // Equal-jitter back-off from 1 s up to 128 s (AWS time): the reconnect defaults of the AWS IoT Device SDK for Embedded C (retry utils) and of the AWS IoT iOS SDK.
    await Promise.all(
      devices.map(async (device, i) => {
        const result = await connectWithBackoff({
          endpoint: bench.stack.endpoint!,
          identity: { certificatePem: deviceChain(device, bench.ca), privateKeyPem: device.privateKeyPem },
          clientId: ids[i]!,
          deadline,
          connectTimeoutMs: 20_000,
          backoff,
        });
        if (result.client) {
          connected++;
          await disconnect(result.client);
        }
        return result;
      }),
    );
    }
    await core.idle();
    sample();
    const wallSeconds = awsSeconds();
    clearInterval(sampler);
    clearInterval(reporter);

    const failed = new Set(
      core.failures.slice(failuresBefore).flatMap((f) => (f.source === 'lambda' ? [String((f.record.requestPayload as { certificateId?: string }).certificateId)] : [])),
    );
    let active = 0;
    let stuckPending = 0;
    let revokedOrInactive = 0;
    let lost = 0;
    for (const device of devices) {
      const status = account.certificates.find(device.certificateId)?.status;
      if (status === 'ACTIVE') active++;
      else if (status === 'PENDING_ACTIVATION') stuckPending++;
      else if (status) revokedOrInactive++;
      if (status !== 'ACTIVE' && !failed.has(device.certificateId)) lost++;
    }
    const stats = core.traffic.stats;
    const answered: Record<string, number> = {};
    for (const [operation, calls] of Object.entries(stats.calls)) {
      const ok = calls - (stats.throttled[operation] ?? 0) - (stats.faults[operation] ?? 0);
      if (ok > 0) answered[operation] = ok;
    }
    const times = [...activatedAt.values()].sort((a, b) => a - b);
    const provisioningSeconds = times.at(-1) ?? 0;
    const registrations = [...registeredAt.values()].sort((a, b) => a - b);
    const timeline: BurstResult['timeline'] = [];
    for (let second = 0; second <= Math.ceil(provisioningSeconds); second++) {
      const within = (t: number) => t >= second && t < second + 1;
      timeline.push({ second, activated: times.filter(within).length, registered: registrations.filter(within).length });
    }
    return {
      handler: options.handler,
      devices: devices.length,
      timeScale,
      concurrency: options.concurrency,
      active,
      connected,
      lost,
      inFailureQueue: failed.size,
      stuckPending,
      revokedOrInactive,
      provisioningSeconds,
      wallSeconds,
      realSeconds: (performance.now() - startedAt) / 1000,
      ratePerSecond: provisioningSeconds > 0 ? active / provisioningSeconds : 0,
      sustainedRatePerSecond: sustainedRate(times),
      saturatedRatePerSecond: saturated.seconds > 0 ? saturated.activations / saturated.seconds : 0,
      saturatedSeconds: saturated.seconds,
      lastRegistrationSeconds: registrations.at(-1) ?? 0,
      firstActivationSeconds: times[0] ?? 0,
      bindingQuota: bindingQuota(WORKFLOW_CALLS[options.handler]),
      callsPerDevice: active > 0 ? sum(answered) / active : 0,
      callsByOperation: answered,
      throttledCalls: sum(stats.throttled),
      invocations: bench.jitr.stats.invocations,
      timeline,
    };
  } finally {
    await bench.stack.close();
  }
}

if (require.main === module) {
  const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const handler = (process.argv.find((a) => a.startsWith('--handler='))?.split('=')[1] ?? 'ours') as HandlerUnderTest;
  const transport = process.argv.includes('--mqtt') ? 'mqtt' : 'gateway';
  runBurst({ devices: arg('devices', 200), handler, transport, timeScale: arg('time-scale', 5), concurrency: arg('concurrency', 10), onProgress: console.log })
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
