import { randomUUID, X509Certificate, createPrivateKey } from 'node:crypto';
import { AttachPolicyCommand, AttachThingPrincipalCommand, CreateThingCommand, DeleteThingCommand, DetachPolicyCommand, DetachThingPrincipalCommand } from '@aws-sdk/client-iot';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3CertificateStore } from '../../shared/aws/certificate-store';
import { createIotClient, createS3Client } from '../../shared/aws/clients';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { DEFAULT_CUSTOM_RESOURCE_SETTINGS, handleCustomResourceRequest } from '../../shared/cloudformation/custom-resource';
import { sendResponse, type CustomResourceResponse } from '../../shared/cloudformation/respond';
import { DEFAULT_CERTIFICATE_RESOURCE_SETTINGS, deviceCertificateResource } from '../../shared/provisioning/certificate-resource';
import { loadEvent } from '../support/fixtures';
import { arnOf } from '../support/handlers';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { FaultInjector, type FaultKind } from '../support/fault-injection';
import { scaled } from '../support/scale';
import { certificates, orphans } from './invariants';

/**
 * Custom::DeviceCertificate (with the example stack's thing and attachments, examples/certificate-resource)
 * when its Lambda dies after any step, or a step fails.
 *
 * CloudFormation invokes the function asynchronously: a crash is an invocation error, so Lambda runs the
 * same request (same RequestId) again, up to twice; CloudFormation takes the first answer that reaches the
 * ResponseURL and ignores later ones. A FAILED Create is rolled back with a Delete of the physical id it
 * answered. Whatever the step: the stack converges — its certificate ACTIVE with the thing and the device
 * policy, the keys in the bucket those of that certificate — or, rolled back, leaves nothing; and no
 * certificate anywhere is left ACTIVE without a thing and the policy.
 */

let stack: LocalStack;
let bucket: string;
let functionArn: string;
let inspect: S3Client;

beforeAll(async () => {
  stack = await startLocalStack();
  bucket = stack.deployed.certificateBucket;
  functionArn = `arn:aws:lambda:us-east-1:${stack.core.endpoints.accountId}:function:${stack.deployed.stack.service}-${stack.deployed.stack.stage}-certificateResource`;
  inspect = createS3Client({ forcePathStyle: true });
}, scaled(60_000, 300_000));

afterAll(async () => {
  inspect?.destroy();
  await stack.close();
});

/** `iot.<method>`, `s3.<object file>` (one PutObject), `s3.DeleteObjects`, or `respond` (the answer sent). */
type Step = string;
type How = FaultKind;

/**
 * One execution environment of certificateResource, built as its handler builds it. `crash`: the first
 * call of `step` does its work, then the process dies — that call and all later ones fail without effect,
 * the answer included. `fail`: that call fails the same way, and the function carries on (answers FAILED).
 * PutObjects run one at a time, so that a crash after one leaves exactly the objects written before it.
 */
function environment(fault?: { step: Step; how: How }) {
  const faults = new FaultInjector(fault);
  const after = <T>(step: Step, work: () => Promise<T>): Promise<T> => faults.after(step, work);

  const iot = new AwsIotDirectory(createIotClient());
  const guardedIot = faults.wrap(iot, 'iot');
  const s3 = createS3Client({ forcePathStyle: true });
  let puts: Promise<unknown> = Promise.resolve();
  const send = s3.send.bind(s3) as (command: unknown) => Promise<unknown>;
  const guardedS3 = new Proxy(s3, {
    get(object, key, receiver) {
      if (key !== 'send') return Reflect.get(object, key, receiver) as unknown;
      return (command: { constructor: { name: string }; input: { Key?: string } }) => {
        if (command instanceof PutObjectCommand) {
          const file = command.input.Key!.slice(command.input.Key!.lastIndexOf('/') + 1);
          const put = puts.then(() => after(`s3.${file}`, () => send(command)));
          puts = put.catch(() => undefined);
          return put;
        }
        return after(`s3.${command.constructor.name.replace(/Command$/, '')}`, () => send(command));
      };
    },
  }) as S3Client;

  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const resource = deviceCertificateResource({
    iot: guardedIot,
    store: new S3CertificateStore(guardedS3, bucket),
    dataEndpoint: () => after('iot.describeEndpoint', () => iot.describeEndpoint('iot:Data-ATS')),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    settings: { ...DEFAULT_CERTIFICATE_RESOURCE_SETTINGS, deleteBackoffMs: 50 },
    log,
  });
  return {
    /** One invocation in this environment, with a 60-second Lambda limit. */
    run: (event: Request) => {
      const started = Date.now();
      return handleCustomResourceRequest(structuredClone(event), { getRemainingTimeInMillis: () => 60_000 - (Date.now() - started) }, resource, {
        respond: (url, response, options) => after('respond', () => sendResponse(url, response, options)),
        settings: DEFAULT_CUSTOM_RESOURCE_SETTINGS,
        log,
      });
    },
    crashed: () => faults.crashed,
  };
}

type Request = Record<string, any>;

function request(type: 'Create' | 'Delete', thingName: string, overrides: Record<string, unknown> = {}): Request {
  const event = loadEvent<Request>(`certificate-resource-${type.toLowerCase()}`);
  event.RequestId = randomUUID();
  event.ResponseURL = stack.core.cloudFormationResponseUrl(event.RequestId);
  event.ResourceProperties = { ...event.ResourceProperties, ServiceToken: functionArn, ThingName: thingName };
  return { ...event, ...overrides };
}

/**
 * Lambda's asynchronous invocation of one request: the first attempt (with the fault), and after a crash
 * the retries with the same event, each in a new environment. Answers what CloudFormation goes by: the
 * first answer that arrived.
 */
async function invoke(event: Request, fault?: { step: Step; how: How }): Promise<{ answer: CustomResourceResponse; attempts: number; crashed: boolean }> {
  let attempts = 0;
  let crashed = false;
  for (let container = environment(fault); attempts < 3; container = environment()) {
    attempts++;
    await container.run(event);
    if (!container.crashed()) break;
    crashed = true;
  }
  const [first] = stack.core.cloudFormationResponses.received(event.RequestId as string);
  if (!first?.body) throw new Error(`no answer for ${event.RequestId as string}`);
  return { answer: first.body as unknown as CustomResourceResponse, attempts, crashed };
}

const account = () => stack.core.defaultAccount;

/**
 * The example stack (Thing, DeviceCertificate, ThingPrincipalAttachment, PolicyPrincipalAttachment)
 * created as CloudFormation does it, the custom resource's first invocation with the fault. A FAILED
 * custom resource rolls the stack back: its Delete (answered physical id), then the thing.
 */
async function createStack(thingName: string, fault?: { step: Step; how: How }) {
  await stack.iot.send(new CreateThingCommand({ thingName }));
  const { answer, attempts, crashed } = await invoke(request('Create', thingName), fault);
  if (answer.Status === 'SUCCESS') {
    const principal = answer.Data!.CertificateArn as string;
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName, principal }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: stack.deployed.devicePolicyName, target: principal }));
    return { answer, attempts, crashed, rolledBack: undefined };
  }
  const rollback = await invoke(request('Delete', thingName, { PhysicalResourceId: answer.PhysicalResourceId }));
  await stack.iot.send(new DeleteThingCommand({ thingName }));
  return { answer, attempts, crashed, rolledBack: rollback.answer };
}

/** Stack deletion: the attachments first (they depend on the certificate), then the custom resource, then the thing. */
async function deleteStack(thingName: string, certificateId: string, fault?: { step: Step; how: How }, options: { keepAttachments?: boolean } = {}) {
  if (!options.keepAttachments) {
    await stack.iot.send(new DetachPolicyCommand({ policyName: stack.deployed.devicePolicyName, target: arnOf(certificateId, account().accountId) }));
    await stack.iot.send(new DetachThingPrincipalCommand({ thingName, principal: arnOf(certificateId, account().accountId) }));
  }
  const deleted = await invoke(request('Delete', thingName, { PhysicalResourceId: certificateId }), fault);
  if (deleted.answer.Status === 'SUCCESS') await stack.iot.send(new DeleteThingCommand({ thingName }));
  return deleted;
}

const objectsUnder = async (thingName: string) => {
  const keys = ((await inspect.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${thingName}/` }))).Contents ?? []).map((o) => o.Key!).sort();
  return Promise.all(
    keys.map(async (key) => ({ key, owner: (await inspect.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata?.['certificate-id'] })),
  );
};
const read = async (key: string) => (await inspect.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
const certificateIds = () => new Set(certificates(stack.core).map((c) => c.certificateId));
const madeSince = (before: Set<string>) => certificates(stack.core).filter((c) => !before.has(c.certificateId));
const noOrphans = () => expect(orphans(stack.core, stack.deployed.devicePolicyName)).toEqual([]);

/** The stack converged: its certificate ACTIVE on the thing with the policy, and the bucket holds exactly its certificate and key. */
async function expectConverged(thingName: string, answer: CustomResourceResponse) {
  const certificateId = answer.PhysicalResourceId;
  expect(answer).toMatchObject({ Status: 'SUCCESS', Data: { CertificateId: certificateId, KeyPrefix: `${thingName}/` } });
  expect(await stack.state({ certificateId } as never)).toEqual({ status: 'ACTIVE', things: [thingName], policies: [stack.deployed.devicePolicyName] });
  expect(await objectsUnder(thingName)).toEqual(
    ['certificate.pem.crt', 'private.pem.key', 'public.pem.key'].map((file) => ({ key: `${thingName}/${file}`, owner: certificateId })),
  );
  const certificate = new X509Certificate(await read(`${thingName}/certificate.pem.crt`));
  expect(certificate.checkPrivateKey(createPrivateKey(await read(`${thingName}/private.pem.key`)))).toBe(true);
  expect(certificate.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(certificateId);
}

const CREATE_STEPS: Step[] = [
  'iot.createKeysAndCertificate',
  's3.certificate.pem.crt',
  's3.public.pem.key',
  's3.private.pem.key',
  'iot.describeEndpoint',
  'iot.updateCertificateStatus',
  'respond',
];

describe('Create: a crash after each step, then Lambda’s retry of the same request', () => {
  it.each(CREATE_STEPS)('converges on one certificate, its keys in the bucket, after a crash after %s', async (step) => {
    const thingName = `cr-crash-${step.replace(/\W/g, '-')}`;
    const before = certificateIds();

    const created = await createStack(thingName, { step, how: 'crash' });

    expect(created.crashed).toBe(true);
    expect(created.attempts).toBe(2);
    await expectConverged(thingName, created.answer);
    noOrphans();

    // Deleting the stack leaves nothing behind — except, after a crash between CreateKeysAndCertificate and
    // the first PutObject, the certificate the dead process minted: INACTIVE, attached to nothing, its key
    // gone with the process (AWS IoT has no way to find which certificate that was).
    expect((await deleteStack(thingName, created.answer.PhysicalResourceId)).answer.Status).toBe('SUCCESS');
    expect(await objectsUnder(thingName)).toEqual([]);
    const left = madeSince(before);
    if (step === 'iot.createKeysAndCertificate') expect(left).toEqual([expect.objectContaining({ status: 'INACTIVE', things: [], policies: [] })]);
    else expect(left).toEqual([]);
    noOrphans();
  });
});

describe('Create: a failure after each step, answered FAILED, then CloudFormation’s rollback Delete', () => {
  it.each(CREATE_STEPS.filter((step) => step !== 'respond'))('leaves nothing behind after a failure after %s', async (step) => {
    const thingName = `cr-fail-${step.replace(/\W/g, '-')}`;
    const before = certificateIds();

    const created = await createStack(thingName, { step, how: 'fail' });

    expect(created.answer).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('InjectedCrash') });
    expect(created.rolledBack).toMatchObject({ Status: 'SUCCESS' });
    expect(await objectsUnder(thingName)).toEqual([]);
    // A CreateKeysAndCertificate whose answer is lost leaves a certificate nobody knows the id of:
    // INACTIVE, attached to nothing.
    if (step === 'iot.createKeysAndCertificate') expect(madeSince(before)).toEqual([expect.objectContaining({ status: 'INACTIVE', things: [], policies: [] })]);
    else expect(madeSince(before)).toEqual([]);
    noOrphans();
  });
});

describe('Delete: a crash after each step, then Lambda’s retry', () => {
  it.each(['s3.DeleteObjects', 'iot.updateCertificateStatus', 'iot.detachThingPrincipal', 'iot.detachPolicy', 'iot.deleteCertificate', 'respond'])(
    'deletes the objects and the certificate after a crash after %s (attachments still in place)',
    async (step) => {
      const thingName = `cr-del-${step.replace(/\W/g, '-')}`;
      const before = certificateIds();
      const created = await createStack(thingName);
      await expectConverged(thingName, created.answer);

      const deleted = await deleteStack(thingName, created.answer.PhysicalResourceId, { step, how: 'crash' }, { keepAttachments: true });

      expect(deleted).toMatchObject({ crashed: true, attempts: 2, answer: { Status: 'SUCCESS' } });
      expect(await objectsUnder(thingName)).toEqual([]);
      expect(madeSince(before)).toEqual([]);
      noOrphans();
    },
  );
});

describe('many stacks at once', () => {
  it(`converges for ${scaled(7, 70)} stacks created at once, each crashing after another step`, async () => {
    const thingNames = Array.from({ length: scaled(7, 70) }, (_, i) => `cr-many-${i}`);
    const created = await Promise.all(thingNames.map((thingName, i) => createStack(thingName, { step: CREATE_STEPS[i % CREATE_STEPS.length]!, how: 'crash' })));
    for (const [i, thingName] of thingNames.entries()) await expectConverged(thingName, created[i]!.answer);
    noOrphans();
  }, scaled(60_000, 600_000));
});

describe('Create answered, then deleted before Lambda’s retry', () => {
  it('the retry makes no certificate for a resource CloudFormation has deleted since', async () => {
    const thingName = 'cr-answered-then-deleted';
    const before = certificateIds();
    await stack.iot.send(new CreateThingCommand({ thingName }));
    const event = request('Create', thingName);
    // The answer goes out, then the process dies: Lambda will run the request again, a minute or more later.
    const first = environment({ step: 'respond', how: 'crash' });
    await first.run(event);
    expect(first.crashed()).toBe(true);
    const [answered] = stack.core.cloudFormationResponses.received(event.RequestId as string);
    const answer = answered!.body as unknown as CustomResourceResponse;
    expect(answer.Status).toBe('SUCCESS');

    // Meanwhile CloudFormation went on, and the stack failed elsewhere and rolled back: the resource is deleted.
    const deleted = await invoke(request('Delete', thingName, { PhysicalResourceId: answer.PhysicalResourceId }));
    expect(deleted.answer.Status).toBe('SUCCESS');
    await stack.iot.send(new DeleteThingCommand({ thingName }));

    // Lambda's retry of the Create.
    await environment().run(event);

    expect(await objectsUnder(thingName)).toEqual([]);
    expect(madeSince(before)).toEqual([]);
    noOrphans();
  });
});
