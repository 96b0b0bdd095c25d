import { AttachPolicyCommand, AttachThingPrincipalCommand, CreateCertificateFromCsrCommand, CreateThingCommand, DescribeCertificateCommand } from '@aws-sdk/client-iot';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createCsr } from '../../lib/pki';
import { createSqsClient } from '../../shared/aws/clients';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The retireDelete stage parameter with the deployed stack: retireCertificate (in its worker container, with its
 * role) takes a retirement from the queue, detaches the thing, sets INACTIVE, detaches the device policy and
 * deletes the certificate — AWS refuses DeleteCertificate while a policy or thing is attached or the certificate
 * is ACTIVE (API_DeleteCertificate), so the order is the test. The device's current certificate is never touched.
 */

let stack: LocalStack;
const sqs = createSqsClient();

beforeAll(async () => {
  stack = await startLocalStack({ params: { retireDelete: 'true' } });
});

afterAll(async () => {
  sqs.destroy();
  await stack.close();
});

async function attachedCertificate(thingName: string): Promise<string> {
  const csr = await createCsr({ serialNumber: thingName });
  const made = await stack.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.csrPem, setAsActive: true }));
  await stack.iot.send(new AttachPolicyCommand({ policyName: stack.deployed.devicePolicyName, target: made.certificateArn! }));
  await stack.iot.send(new AttachThingPrincipalCommand({ thingName, principal: made.certificateArn! }));
  return made.certificateId!;
}

async function retire(deviceId: string, certificateId: string): Promise<void> {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${stack.deployed.stack.service}-${stack.deployed.stack.stage}-retirements` }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ deviceId, certificateId, thingName: deviceId }) }));
}

async function until(holds: () => Promise<boolean>, ms = 15_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await holds()); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const exists = async (certificateId: string) =>
  stack.iot.send(new DescribeCertificateCommand({ certificateId })).then(
    () => true,
    (error: Error) => (error.name === 'ResourceNotFoundException' ? false : Promise.reject(error)),
  );

describe('retireCertificate with retireDelete=true', () => {
  /** A device bound to `current`, with `old` still attached to its thing: the state a rotation leaves. */
  async function rotatedOut(deviceId: string): Promise<{ old: string; current: string }> {
    await stack.registry.allow(deviceId, {}, new Date());
    await stack.iot.send(new CreateThingCommand({ thingName: deviceId }));
    const old = await attachedCertificate(deviceId);
    const current = await attachedCertificate(deviceId);
    await stack.registry.claim(deviceId, current, { at: new Date() });
    await stack.registry.markBound(deviceId, current, deviceId, new Date());
    return { old, current };
  }

  it('deletes a rotated-out certificate after detaching it and setting it INACTIVE; the current one stays', async () => {
    const deviceId = 'RETIRE-DELETE-1';
    const { old, current } = await rotatedOut(deviceId);

    await retire(deviceId, old);

    await until(async () => !(await exists(old)));
    expect(await stack.describe(current)).toEqual({ status: 'ACTIVE', things: [deviceId], policies: [stack.deployed.devicePolicyName] });
  });

  it('refuses to delete the device’s current certificate', async () => {
    const deviceId = 'RETIRE-DELETE-2';
    const { old, current } = await rotatedOut(deviceId);

    // The current one first; once the old one, sent after it, is gone, the first retirement has run too.
    await retire(deviceId, current);
    await retire(deviceId, old);
    await until(async () => !(await exists(old)));
    await stack.core.idle();

    expect(await stack.describe(current)).toEqual({ status: 'ACTIVE', things: [deviceId], policies: [stack.deployed.devicePolicyName] });
  });
});
