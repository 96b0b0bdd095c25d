import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startStackHarness } from '../local/stack-harness';
import { createCa, issueCertificate, type KeyedCertificate } from '../lib/pki';
import { bundleForBench } from './bundle';

/**
 * Pre-provisioning hook latency: warm invocations of the built hook, in a Lambda-like container, against
 * local DynamoDB (dynalite) — as AWS IoT calls it during RegisterThing, which waits at most 5 s. Then the
 * same hook against a DynamoDB endpoint that accepts connections and never answers (a stalled registry):
 * the answer must still come, `allowProvisioning: false`, well inside 5 s.
 */

export interface HookLatencyResult {
  invocations: number;
  allowed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  stalled: { invocations: number; allowed: number; p50Ms: number; maxMs: number };
  /** What one decision is made of, measured in the same run: the container round trip with no I/O (an invalid event), and one DynamoDB read. */
  parts: { roundTrip: { p50Ms: number; p99Ms: number }; dynamoRead: { p50Ms: number; p99Ms: number } };
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

async function startHook(environment: Record<string, string> = {}) {
  const hook = await bundleForBench('functions/pre-provisioning-hook/handler.ts', 'pre-provisioning-hook');
  const stack = await startStackHarness({
    core: { traffic: { throttling: false } },
    deploy: { environment, modules: { preProvisioningHook: { modulePath: hook, exportName: 'handler' } } },
  });
  const { core, deployed } = stack;
  const fn = deployed.stack.functions.find((f) => f.name === 'preProvisioningHook')!;
  const arn = `arn:aws:lambda:${core.registry.region}:${core.registry.defaultAccountId}:function:${fn.functionName}`;
  const templateArn = `arn:aws:iot:${core.registry.region}:${core.registry.defaultAccountId}:provisioningtemplate/${deployed.templateName}`;
  return { stack, invoke: (event: unknown) => core.invokeFunction(arn, event, 5_000) as Promise<{ allowProvisioning?: boolean }>, templateArn };
}

/** A TCP endpoint that accepts and never answers. */
async function stalledEndpoint(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

export async function measureHookLatency(options: { invocations: number; stalledInvocations?: number; onProgress?: (line: string) => void }): Promise<HookLatencyResult> {
  const progress = options.onProgress ?? (() => {});
  const ca = await createCa({ commonName: 'Hook bench CA' });
  const count = options.invocations;
  const certificates: KeyedCertificate[] = [];
  for (let i = 0; i < count; i++) certificates.push(await issueCertificate(ca, { subject: { serialNumber: `HOOK-${String(i).padStart(5, '0')}` } }));
  const eventFor = (i: number, templateArn: string) => ({
    claimCertificateId: 'c'.repeat(64),
    certificateId: certificates[i]!.certificateId,
    certificatePem: certificates[i]!.certificatePem,
    templateArn,
    clientId: `claim-HOOK-${i}`,
    parameters: { SerialNumber: `HOOK-${String(i).padStart(5, '0')}` },
  });

  const { stack, invoke, templateArn } = await startHook();
  let timings: number[] = [];
  let allowed = 0;
  const roundTrips: number[] = [];
  const reads: number[] = [];
  try {
    const { registry } = stack;
    // Every other serial is allow-listed: half the decisions allow (claim + record), half refuse (record).
    for (let i = 0; i < count; i += 2) await registry.allow(`HOOK-${String(i).padStart(5, '0')}`, {}, new Date());
    // Warm the container, as the figures are for warm invocations.
    for (let i = 0; i < 5; i++) await invoke({ ...eventFor(count - 1, templateArn), parameters: { SerialNumber: 'WARMUP' } });
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const answer = await invoke(eventFor(i, templateArn));
      timings.push(performance.now() - started);
      if (answer.allowProvisioning === true) allowed++;
      if ((i + 1) % 250 === 0) progress(`  hook: ${i + 1}/${count} warm invocations`);
    }
    // The parts: an event the hook refuses before any I/O, and the registry read it makes.
    for (let i = 0; i < Math.min(count, 500); i++) {
      let started = performance.now();
      await invoke({});
      roundTrips.push(performance.now() - started);
      started = performance.now();
      await registry.get(`HOOK-${String(i).padStart(5, '0')}`);
      reads.push(performance.now() - started);
    }
  } finally {
    await stack.close();
  }
  timings = timings.sort((a, b) => a - b);

  const stall = await stalledEndpoint();
  const stalled = await startHook({ AWS_ENDPOINT_URL_DYNAMODB: stall.url });
  const stalledTimings: number[] = [];
  let stalledAllowed = 0;
  try {
    const n = options.stalledInvocations ?? 5;
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const answer = await stalled.invoke(eventFor(i, stalled.templateArn));
      stalledTimings.push(performance.now() - started);
      if (answer.allowProvisioning !== false) stalledAllowed++;
    }
    progress(`  hook: ${n} invocations against a stalled registry`);
  } finally {
    await stalled.stack.close();
    stall.server.close();
  }
  stalledTimings.sort((a, b) => a - b);
  return {
    invocations: count,
    allowed,
    p50Ms: percentile(timings, 50),
    p99Ms: percentile(timings, 99),
    maxMs: timings.at(-1) ?? 0,
    stalled: { invocations: stalledTimings.length, allowed: stalledAllowed, p50Ms: percentile(stalledTimings, 50), maxMs: stalledTimings.at(-1) ?? 0 },
    parts: { roundTrip: summary(roundTrips), dynamoRead: summary(reads) },
  };
}

if (require.main === module) {
  const n = Number(process.argv.find((a) => a.startsWith('--invocations='))?.split('=')[1] ?? 1000);
  measureHookLatency({ invocations: n, onProgress: console.log })
    .then((r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
