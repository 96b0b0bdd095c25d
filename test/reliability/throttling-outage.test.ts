import { X509Certificate } from 'node:crypto';
import type { AsyncLambda } from '../../local/lambda/async-lambda';
import type { CertificateRegisteredEvent } from '../../shared/schemas/certificate-registered-event';
import type { VendAnswer } from '../../shared/provisioning/vend-certificate';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { scaled } from '../support/scale';
import { signedFetch } from '../support/signed-fetch';
import { certificates, orphans } from './invariants';

/**
 * The control plane throttling 30 % of calls and failing 5 % with a 5xx (on top of AWS's TPS quotas), and
 * DynamoDB down for a while, while a batch of JITR devices makes its first connect and a factory vends a few
 * certificates. Devices retry their connection as firmware does (seeds 000/001); the handlers rely on the SDK's
 * retries, Lambda's two retries and the failure queue. After the retries: no device lost (every admitted
 * device ACTIVE, or its event in the failure queue with a reason), none stuck PENDING_ACTIVATION. And the
 * pre-provisioning hook, whose registry is down, still answers — no — inside AWS's 5 seconds.
 *
 * Faults and outages are switched through the local IoT Core's own API (`POST /_local/traffic`,
 * `POST /_local/dynamodb`), as an operator of `npm run emulator` would.
 */

let stack: LocalStack;
let activation: AsyncLambda;

// Five concurrent activations are plenty against the 10-TPS quotas, and cost fewer cold starts.
const CONCURRENCY = 5;

beforeAll(async () => {
  stack = await startLocalStack({ core: { lambdaConcurrency: CONCURRENCY } });
  activation = stack.deployed.functions.get('activateCertificate')!;
});

afterAll(async () => {
  await stack.close();
});

afterEach(async () => {
  await local('/traffic', { faults: {} });
  await local('/dynamodb', { outage: null });
});

async function local(path: string, body: unknown): Promise<void> {
  const response = await fetch(`${stack.core.endpoints.iot}/_local${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(200);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Answer = { status: number; body: VendAnswer & { reason?: string } };

async function vendOnce(deviceId: string, key: string): Promise<Answer> {
  const response = await signedFetch(`${stack.core.endpoints.http}/devices/${deviceId}/certificate`, { method: 'POST', body: '{}', headers: { 'idempotency-key': key } });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

/** A factory system: the same Idempotency-Key until a final answer, backing off on 429, 5xx and a request still running. */
async function vend(deviceId: string): Promise<Answer & { attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    const answer = await vendOnce(deviceId, `factory-${deviceId}`);
    const retryable = answer.status === 429 || answer.status >= 500 || answer.body.reason === 'request-in-progress';
    if (!retryable || attempt === 12) return { ...answer, attempts: attempt };
    await sleep(250 * attempt);
  }
}

function hookEvent(deviceId: string, certificatePem: string) {
  return {
    claimCertificateId: 'c'.repeat(64),
    certificateId: new X509Certificate(certificatePem).fingerprint256.replace(/:/g, '').toLowerCase(),
    certificatePem,
    templateArn: `arn:aws:iot:us-east-1:${stack.core.endpoints.accountId}:provisioningtemplate/${stack.deployed.templateName}`,
    clientId: `claim-${deviceId}`,
    parameters: { SerialNumber: deviceId },
  };
}

describe('the pre-provisioning hook while the registry is down', () => {
  const hookArn = () => `arn:aws:lambda:us-east-1:${stack.core.endpoints.accountId}:function:${stack.deployed.stack.service}-${stack.deployed.stack.stage}-preProvisioningHook`;

  /** As AWS IoT invokes it: synchronously, and waiting 5 s at most. */
  async function askHook(event: unknown): Promise<{ answer: { allowProvisioning: boolean }; ms: number }> {
    const started = performance.now();
    const answer = (await stack.core.invokeFunction(hookArn(), event, 5_000)) as { allowProvisioning: boolean };
    return { answer, ms: performance.now() - started };
  }

  it.each([
    ['unavailable', 'answers 503'],
    ['reset', 'resets every connection'],
    ['stall', 'never answers'],
  ] as const)(
    'answers allowProvisioning false well inside 5 s while DynamoDB is down (%s: it %s), and allows again once it is back',
    async (mode, _behaviour) => {
      const deviceId = `HOOK-OUTAGE-${mode}`;
      const certificate = await stack.device(deviceId, { registry: 'allow' });
      const event = hookEvent(deviceId, certificate.certificatePem);
      // Warm: the first invocation loads the handler (cold start).
      await askHook(hookEvent('HOOK-WARM-UP', certificate.certificatePem));

      await local('/dynamodb', { outage: mode });
      const down = await askHook(event);
      await local('/dynamodb', { outage: null });
      const back = await askHook(event);

      expect(down.answer).toEqual({ allowProvisioning: false });
      // The hook's own deadline is 3 s; AWS IoT gives up at 5 s.
      expect(down.ms).toBeLessThan(4_000);
      expect(back.answer).toMatchObject({ allowProvisioning: true });
      expect((await stack.registry.get(deviceId))?.lastProvisioning).toMatchObject({ outcome: 'allowed', certificateId: event.certificateId });
    },
  );
});

describe('a burst of first connects under throttling, 5xx and a DynamoDB outage', () => {
  beforeAll(async () => {
    // Cold starts are not what this measures (on a busy 2-core machine, ten containers loading the handler
    // at once take tens of seconds here): warm every activation container with events it drops at once.
    for (let i = 0; i < CONCURRENCY; i++) stack.core.publish(stack.core.defaultAccount, `$aws/events/certificates/registered/${stack.ca.certificateId}`, { warmUp: i });
    await stack.core.idle();
  }, 120_000);

  it(`loses no device: ${scaled(12, 200)} admitted devices end ACTIVE, none PENDING, and a few vends succeed`, async () => {
    const admitted = await Promise.all(Array.from({ length: scaled(12, 200) }, (_, i) => stack.device(`BURST-${i}`, { registry: 'allow' })));
    const refused = await Promise.all(Array.from({ length: scaled(3, 20) }, (_, i) => stack.device(`BURST-STRANGER-${i}`)));
    const vended = Array.from({ length: scaled(2, 10) }, (_, i) => `BURST-VEND-${i}`);
    for (const deviceId of [...vended, 'BURST-VEND-DOWN']) await stack.registry.allow(deviceId, {}, new Date());
    const errorsBefore = activation.stats.errors;

    await local('/traffic', { faults: { throttleRate: 0.3, errorRate: 0.05, errorCode: 'ServiceUnavailableException' } });
    const pending = new Set<(typeof admitted)[number]>();
    /** Every device not in yet connects again (a pending certificate is re-announced), then the handlers run. */
    const reconnect = async () => {
      for (const device of pending) {
        const result = stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
        if (result.accepted || result.reason === 'certificate-revoked') pending.delete(device);
      }
      await stack.core.idle();
    };

    // The factory's vends and a first wave of first connects, all at once, under throttling and 5xx.
    const [firstWave, secondWave] = [admitted.slice(0, admitted.length / 2), admitted.slice(admitted.length / 2)];
    for (const device of [...firstWave, ...refused]) pending.add(device);
    const firstConnects = reconnect();
    const vendAnswers = await Promise.all(vended.map(vend));

    // Then DynamoDB goes down for a while: the second wave makes its first connect into the outage, and
    // everyone not in yet keeps reconnecting while the handlers fail.
    const outageMs = scaled(5_000, 20_000);
    await local('/dynamodb', { outage: 'unavailable', durationMs: outageMs });
    const outageEnds = Date.now() + outageMs;
    for (const device of secondWave) pending.add(device);
    const vendingWhileDown = async () => {
      const started = Date.now();
      return { ...(await vendOnce('BURST-VEND-DOWN', 'factory-BURST-VEND-DOWN')), ms: Date.now() - started };
    };
    const [downVend] = await Promise.all([vendingWhileDown(), reconnect(), firstConnects]);
    while (Date.now() < outageEnds) {
      await reconnect();
      await sleep(250);
    }
    // Back up (throttling and 5xx go on): devices reconnect with back-off until they are in, as firmware does.
    const givesUp = Date.now() + scaled(60_000, 400_000);
    for (let attempt = 0; pending.size > 0 && Date.now() < givesUp; attempt++) {
      await reconnect();
      if (pending.size > 0) await sleep(Math.min(250 * 2 ** attempt, 4_000));
    }
    const afterOutage = await vend('BURST-VEND-DOWN');
    await local('/traffic', { faults: {} });

    // Every admitted device is ACTIVE with its thing and the device policy — or its event is in the
    // failure queue with a reason; none is left PENDING_ACTIVATION; strangers are revoked.
    const failures = stack.core.failures.filter((f) => f.source === 'lambda');
    const failed = new Set(failures.map((f) => (f.record.requestPayload as CertificateRegisteredEvent).certificateId));
    const registry = new Map(certificates(stack.core).map((c) => [c.certificateId, c]));
    const lost = admitted
      .map((device) => registry.get(device.certificateId) ?? { certificateId: device.certificateId, status: 'not registered', things: [], policies: [] })
      .filter((c) => !(c.status === 'ACTIVE' && c.things.length === 1 && c.policies.includes(stack.deployed.devicePolicyName)))
      .filter((c) => !failed.has(c.certificateId));
    expect(pending.size).toBe(0);
    expect(lost).toEqual([]);
    // The registry records each binding too — or the failure queue says why it could not.
    const unrecorded: string[] = [];
    for (const [i, device] of admitted.entries()) {
      const entry = await stack.registry.get(`BURST-${i}`);
      if (!(entry?.certificateId === device.certificateId && entry.bindingState === 'bound') && !failed.has(device.certificateId)) unrecorded.push(`BURST-${i}`);
    }
    expect(unrecorded).toEqual([]);
    expect([...registry.values()].filter((c) => c.status === 'PENDING_ACTIVATION')).toEqual([]);
    expect(refused.map((device) => registry.get(device.certificateId)?.status)).toEqual(refused.map(() => 'REVOKED'));
    // Each failure says why: retries exhausted (with the last error), or the event waited longer than the
    // maximum event age (6 hours, ÷ the core's time scale) behind the slowed-down invocations.
    for (const failure of failures) {
      expect(failure.record).toMatchObject({
        requestContext: { condition: expect.stringMatching(/^(RetriesExhausted|EventAgeExceeded)$/) },
        responsePayload: { errorType: expect.any(String), errorMessage: expect.any(String) },
      });
    }
    // The faults were felt: invocations failed and were retried.
    expect(activation.stats.errors).toBeGreaterThan(errorsBefore);

    // The factory got one certificate per device, bound like any other.
    for (const [i, answer] of vendAnswers.entries()) {
      expect(answer.status).toBe(201);
      expect(await stack.state({ certificateId: answer.body.certificateId } as never)).toEqual({
        status: 'ACTIVE',
        things: [vended[i]],
        policies: [stack.deployed.devicePolicyName],
      });
    }
    // A vend while the registry is down fails cleanly within the function's 20 s (API Gateway waits 30 s);
    // its retry with the same key afterwards succeeds.
    expect(downVend).toMatchObject({ status: 500, body: { message: 'Internal error' } });
    expect(downVend.ms).toBeLessThan(20_000);
    expect(afterOutage.status).toBe(201);
    expect(orphans(stack.core, stack.deployed.devicePolicyName)).toEqual([]);
  }, scaled(120_000, 900_000));
});
