import { AttachPrincipalPolicyCommand, IoTClient, UpdateCertificateCommand } from '@aws-sdk/client-iot';

/**
 * The baseline of the burst: what seed 001's Lambda (`IoT_JustInTime`, Python) does, in TypeScript with the
 * SDK's defaults (standard retry mode, 3 attempts): attach the policy, activate, rethrow any error. No
 * admission, no thing, no registry, no failure destination. Used only by `npm run bench`; never deployed.
 */

const iot = new IoTClient({});
const policyName = process.env.DEVICE_POLICY_NAME ?? 'JustInTime';
const region = process.env.AWS_REGION ?? 'us-east-1';

export const handler = async (event: { awsAccountId: string; certificateId: string }): Promise<void> => {
  const certificateArn = `arn:aws:iot:${region}:${event.awsAccountId}:cert/${event.certificateId}`;
  await iot.send(new AttachPrincipalPolicyCommand({ policyName, principal: certificateArn }));
  await iot.send(new UpdateCertificateCommand({ certificateId: event.certificateId, newStatus: 'ACTIVE' }));
};
