import { X509Certificate, createPrivateKey } from 'node:crypto';
import { CreateThingGroupCommand, ListThingGroupsForThingCommand } from '@aws-sdk/client-iot';
import { createCsr } from '../../lib/pki';
import { createDocumentClient, createIotClient, createSqsClient } from '../../shared/aws/clients';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { DynamoProvisioningLedger } from '../../shared/aws/provisioning-ledger';
import { SqsRetirementQueue } from '../../shared/aws/retirement-queue';
import { loadVendingConfig } from '../../shared/config';
import type { VendAnswer, VendDeps } from '../../shared/provisioning/vend-certificate';
import { handleVendingRequest } from '../../functions/vend-certificate/http';
import { loadEvent } from '../support/fixtures';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { BIND_STEPS, FaultInjector, InjectedCrash, type FaultKind } from '../support/fault-injection';
import { scaled } from '../support/scale';
import { certificatesOf, orphans } from './invariants';

/**
 * Certificate vending when its Lambda dies after any step of the workflow — the process is gone: nothing it
 * would have done next happens, not even its error handling — and the factory system retries with the same
 * Idempotency-Key, as the CLI does after a 5xx. Whatever the step, the device must end with exactly one
 * ACTIVE certificate, attached to its thing with the device policy, whose key the caller holds; and no
 * certificate anywhere may be left ACTIVE without a thing and the policy.
 */

let stack: LocalStack;
let vendingConfig: ReturnType<typeof loadVendingConfig>;
const GROUP = 'line-7';

beforeAll(async () => {
  stack = await startLocalStack();
  await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: GROUP }));
  vendingConfig = loadVendingConfig({
    DEVICE_REGISTRY_TABLE: stack.deployed.tableName,
    PROVISIONING_LEDGER_TABLE: stack.deployed.ledgerTableName,
    DEVICE_POLICY_NAME: stack.deployed.devicePolicyName,
    RETIREMENT_QUEUE_NAME: `${stack.deployed.stack.service}-${stack.deployed.stack.stage}-retirements`,
    ROLE_ALIAS: stack.deployed.roleAlias,
    RETIRE_GRACE_SECONDS: '300',
  });
});

afterAll(async () => {
  await stack.close();
});

type Port = 'iot' | 'registry' | 'idempotency' | 'retirements';
type Step = `${Port}.${string}`;

/** What the containers logged as errors: a failure's message quotes the device's. */
const loggedErrors: string[] = [];

/**
 * One vending "container", as the handler builds it: the real adapters against the local IoT Core and
 * DynamoDB, with a crash or a failure right after one step (see test/support/fault-injection.ts).
 */
function container(options: { fault?: { step: Step; how: FaultKind }; clock: () => Date }): VendDeps & { crashed: () => boolean } {
  const iot = new AwsIotDirectory(createIotClient({ maxAttempts: 3 }));
  const documents = createDocumentClient();
  const faults = new FaultInjector(options.fault);
  return {
    iot: faults.wrap(iot, 'iot'),
    registry: faults.wrap(new DynamoDeviceRegistry(documents, vendingConfig.registryTable), 'registry'),
    idempotency: faults.wrap(new DynamoProvisioningLedger(documents, vendingConfig.ledgerTable), 'idempotency'),
    retirements: faults.wrap(new SqsRetirementQueue(createSqsClient({ maxAttempts: 3 }), vendingConfig.retirementQueueName), 'retirements'),
    endpoints: async () => {
      if (faults.crashed) throw new InjectedCrash('the process is gone');
      return { data: await iot.describeEndpoint('iot:Data-ATS'), credentials: await iot.describeEndpoint('iot:CredentialProvider') };
    },
    settings: { ...vendingConfig.settings, thingGroup: GROUP },
    now: options.clock,
    log: { debug() {}, info() {}, warn() {}, error: (message: string, data?: unknown) => loggedErrors.push(`${message} ${JSON.stringify(data)}`) },
    crashed: () => faults.triggered,
  };
}

/** POST /devices/{id}/certificate as API Gateway hands it to the function (IAM caller, Idempotency-Key). */
function vendEvent(deviceId: string, key: string, body: Record<string, unknown>) {
  const event = loadEvent<Record<string, any>>('vend-certificate');
  event.rawPath = event.requestContext.http.path = `/devices/${deviceId}/certificate`;
  event.pathParameters = { deviceId };
  event.headers['idempotency-key'] = key;
  event.body = JSON.stringify(body);
  return event;
}

type Answer = { status: number; body: VendAnswer & { reason?: string } };

const call = async (deps: VendDeps, event: unknown): Promise<Answer> => {
  const result = await handleVendingRequest(structuredClone(event), deps);
  return { status: result.statusCode, body: JSON.parse(result.body) as Answer['body'] };
};

/**
 * The factory system: one request whose Lambda crashes after `step`, then retries with the same key —
 * each in a fresh container, 30 s apart (a request still marked running answers 409 until it is known
 * dead), at most 8 times, as the CLI would be run again.
 */
async function vendThroughCrash(deviceId: string, step: Step, body: Record<string, unknown>, how: 'crash' | 'fail' = 'crash') {
  const event = vendEvent(deviceId, `${how}-${deviceId}`, body);
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const crashing = container({ fault: { step, how }, clock });
  const first = await call(crashing, event);
  const attempts: Answer[] = [first];
  while (attempts.at(-1)!.status !== 201 && attempts.length < 8) {
    offsetMs += 30_000;
    attempts.push(await call(container({ clock }), event));
  }
  return { crashed: crashing.crashed(), first, attempts, final: attempts.at(-1)!, event, clock };
}

/** The device has exactly the answered certificate: ACTIVE, on its thing, with the device policy; nothing else is ACTIVE on the thing. */
async function expectBoundTo(deviceId: string, answer: VendAnswer) {
  expect(await stack.state({ certificateId: answer.certificateId } as never)).toEqual({
    status: 'ACTIVE',
    things: [deviceId],
    policies: [stack.deployed.devicePolicyName],
  });
  expect(certificatesOf(stack.core, deviceId).filter((c) => c.status === 'ACTIVE').map((c) => c.certificateId)).toEqual([answer.certificateId]);
  expect(await stack.registry.get(deviceId)).toMatchObject({ certificateId: answer.certificateId, bindingState: 'bound', thingName: deviceId });
  const { thingGroups } = await stack.iot.send(new ListThingGroupsForThingCommand({ thingName: deviceId }));
  expect(thingGroups?.map((g) => g.groupName)).toEqual([GROUP]);
}

const noOrphans = () => expect(orphans(stack.core, stack.deployed.devicePolicyName)).toEqual([]);

const LEDGER_STEPS: Step[] = ['idempotency.begin', 'idempotency.saveProgress', 'idempotency.complete'];

describe('a crash after each vending step, then the retry with the same Idempotency-Key', () => {
  it.each<Step>(['iot.createKeysAndCertificate', ...BIND_STEPS, ...LEDGER_STEPS])(
    'generated key: converges to one ACTIVE, bound certificate whose key the caller holds, after a crash after %s',
    async (step) => {
      const deviceId = `VC-KEY-${step.replace('.', '-')}`;
      await stack.registry.allow(deviceId, {}, new Date());

      const { crashed, first, final, event } = await vendThroughCrash(deviceId, step, {});

      expect(crashed).toBe(true);
      expect(first.status).toBe(500);
      expect(final.status).toBe(201);
      expect(final.body.thingName).toBe(deviceId);
      // The key handed out belongs to the certificate that is now the device's.
      expect(new X509Certificate(final.body.certificatePem).checkPrivateKey(createPrivateKey(final.body.privateKey!))).toBe(true);
      await expectBoundTo(deviceId, final.body);
      noOrphans();
      // Asking once more gets the same answer, and changes nothing.
      const again = await call(container({ clock: () => new Date() }), event);
      expect(again).toMatchObject({ status: 201, body: { certificateId: final.body.certificateId, privateKey: final.body.privateKey } });
    },
  );

  it.each<Step>(['iot.createCertificateFromCsr', ...BIND_STEPS, ...LEDGER_STEPS])(
    'CSR: converges to one ACTIVE, bound certificate for the device’s own key, after a crash after %s',
    async (step) => {
      const deviceId = `VC-CSR-${step.replace('.', '-')}`;
      await stack.registry.allow(deviceId, {}, new Date());
      const csr = await createCsr({ serialNumber: deviceId }, 'ec-p256');

      const { crashed, final } = await vendThroughCrash(deviceId, step, { csr: csr.csrPem });

      expect(crashed).toBe(true);
      expect(final.status).toBe(201);
      expect(new X509Certificate(final.body.certificatePem).checkPrivateKey(createPrivateKey(csr.privateKeyPem))).toBe(true);
      await expectBoundTo(deviceId, final.body);
      noOrphans();
    },
  );

  it.each<Step>(['iot.createKeysAndCertificate', 'registry.claim', 'iot.updateCertificateStatus', 'registry.markBound', 'retirements.schedule', 'idempotency.complete'])(
    'rotation: the new certificate is bound and the old one is retired after its grace period, after a crash after %s',
    async (step) => {
      const deviceId = `VC-ROT-${step.replace('.', '-')}`;
      await stack.registry.allow(deviceId, {}, new Date());
      const original = await call(container({ clock: () => new Date() }), vendEvent(deviceId, `first-${deviceId}`, {}));
      expect(original.status).toBe(201);

      const { crashed, final } = await vendThroughCrash(deviceId, step, { rotate: true });
      expect(crashed).toBe(true);
      expect(final.status).toBe(201);
      expect(final.body.rotation?.previousCertificateId).toBe(original.body.certificateId);
      await stack.core.idle(); // the grace period (÷ the core's time scale) and retireCertificate

      await expectBoundTo(deviceId, final.body);
      expect(await stack.state({ certificateId: original.body.certificateId } as never)).toEqual({
        status: 'INACTIVE',
        things: [],
        policies: [stack.deployed.devicePolicyName],
      });
      noOrphans();
    },
  );

  it.each<Step>(['iot.createKeysAndCertificate', ...BIND_STEPS, 'idempotency.saveProgress'])(
    'a failure (answered 500, the process lives on) after %s: the retry converges on the first certificate',
    async (step) => {
      const deviceId = `VC-ERR-${step.replace('.', '-')}`;
      await stack.registry.allow(deviceId, {}, new Date());

      const { crashed, first, attempts, final } = await vendThroughCrash(deviceId, step, {}, 'fail');

      expect(crashed).toBe(true);
      expect(first.status).toBe(500);
      // Nothing is known dead here: the retry may carry on at once.
      expect(attempts).toHaveLength(2);
      expect(final.status).toBe(201);
      expect(new X509Certificate(final.body.certificatePem).checkPrivateKey(createPrivateKey(final.body.privateKey!))).toBe(true);
      await expectBoundTo(deviceId, final.body);
      expect(certificatesOf(stack.core, deviceId)).toHaveLength(1);
      noOrphans();
    },
  );

  it(`converges for ${scaled(11, 121)} devices crashing at once, each after another step`, async () => {
    const steps: Step[] = ['iot.createKeysAndCertificate', ...BIND_STEPS, ...LEDGER_STEPS];
    const devices = Array.from({ length: scaled(11, 121) }, (_, i) => `VC-MANY-${i}`);
    for (const deviceId of devices) await stack.registry.allow(deviceId, {}, new Date());

    const outcomes = await Promise.all(devices.map((deviceId, i) => vendThroughCrash(deviceId, steps[i % steps.length]!, {})));

    for (const [i, deviceId] of devices.entries()) {
      // The device and every answer it got, so that a failure says which step and why.
      const answers = outcomes[i]!.attempts.map((a) => `${a.status} ${a.body.reason ?? ''}`.trim());
      if (outcomes[i]!.final.status !== 201) {
        const logged = loggedErrors.filter((line) => line.includes(`"${deviceId}"`)).slice(0, 3);
        throw new Error(`${deviceId} (crash after ${steps[i % steps.length]!}) got ${answers.join(' | ')}; logged: ${logged.join(' / ')}`);
      }
      await expectBoundTo(deviceId, outcomes[i]!.final.body);
    }
    noOrphans();
  }, scaled(60_000, 600_000));
});
