import { readFileSync } from 'node:fs';
import {
  DeleteThingShadowCommand,
  GetRetainedMessageCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  ListRetainedMessagesCommand,
  PublishCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { fetchRoleCredentials } from '../../device/credential-provider';
import { connectOnce, type Endpoint, type Identity } from '../../local/sandbox/simulator';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * IAM on the data plane (iot-data over HTTP, signed with a role session's temporary key), and policies
 * attached to thing groups, which apply to the connections of the groups' things (and of their child
 * groups' things) over real MQTT/TLS and at the credential provider.
 */

let stack: LocalStack;
let arn: (resource: string) => string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, credentials: { port: 0 } } });
  arn = (resource) => `arn:aws:iot:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:${resource}`;
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack?.close();
});

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));
const forbidden = (message = 'Forbidden') => ({ name: 'ForbiddenException', message, $metadata: expect.objectContaining({ httpStatusCode: 403 }) });

describe('iot-data calls signed with a role session', () => {
  const roleArn = 'arn:aws:iam::123456789012:role/data-plane-test';
  let role: IoTDataPlaneClient;
  let operator: IoTDataPlaneClient;

  beforeAll(async () => {
    for (const thingName of ['DATA-A', 'DATA-B']) await stack.iot.send(new CreateThingCommand({ thingName }));
    stack.core.iam.defineRole(roleArn, [
      {
        name: 'data',
        policy: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['iot:Publish', 'iot:GetRetainedMessage'], Resource: arn('topic/telemetry/allowed') },
            { Effect: 'Allow', Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow'], Resource: [arn('thing/DATA-A'), arn('thing/DATA-A/config')] },
            { Effect: 'Allow', Action: 'iot:ListNamedShadowsForThing', Resource: arn('thing/DATA-A') },
          ],
        },
      },
    ]);
    const session = stack.core.iam.assumeRole(roleArn, 'data-iam');
    role = new IoTDataPlaneClient({ credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken } });
    // The harness's environment: the operator's 12-digit key, which is not checked.
    operator = new IoTDataPlaneClient({});
  });
  afterAll(() => {
    role.destroy();
    operator.destroy();
  });

  it('publishes only on the topic the role allows, and a retained publish needs iot:RetainPublish too', async () => {
    await expect(role.send(new PublishCommand({ topic: 'telemetry/allowed', payload: payload({ n: 1 }) }))).resolves.toBeDefined();
    await expect(role.send(new PublishCommand({ topic: 'telemetry/other', payload: payload({ n: 2 }) }))).rejects.toMatchObject(forbidden());
    await expect(role.send(new PublishCommand({ topic: 'telemetry/allowed', retain: true, payload: payload({ n: 3 }) }))).rejects.toMatchObject(forbidden());
    // Nothing was retained by the refused publish.
    await expect(operator.send(new GetRetainedMessageCommand({ topic: 'telemetry/allowed' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('reads a retained message on its topic only, and may not list them (iot:ListRetainedMessages is not granted)', async () => {
    await operator.send(new PublishCommand({ topic: 'telemetry/allowed', retain: true, payload: payload({ kept: true }) }));
    await operator.send(new PublishCommand({ topic: 'telemetry/other', retain: true, payload: payload({ kept: true }) }));
    const message = await role.send(new GetRetainedMessageCommand({ topic: 'telemetry/allowed' }));
    expect(JSON.parse(Buffer.from(message.payload!).toString('utf8'))).toEqual({ kept: true });
    await expect(role.send(new GetRetainedMessageCommand({ topic: 'telemetry/other' }))).rejects.toMatchObject(forbidden());
    await expect(role.send(new ListRetainedMessagesCommand({}))).rejects.toMatchObject(forbidden());
    await expect(operator.send(new ListRetainedMessagesCommand({}))).resolves.toMatchObject({ retainedTopics: expect.any(Array) });
  });

  it('updates and reads the shadows of the thing the role allows, named shadows by their own ARN, and nothing else', async () => {
    await expect(role.send(new UpdateThingShadowCommand({ thingName: 'DATA-A', payload: payload({ state: { reported: { on: true } } }) }))).resolves.toBeDefined();
    await expect(role.send(new GetThingShadowCommand({ thingName: 'DATA-A' }))).resolves.toBeDefined();
    await expect(role.send(new UpdateThingShadowCommand({ thingName: 'DATA-A', shadowName: 'config', payload: payload({ state: { desired: { rate: 5 } } }) }))).resolves.toBeDefined();
    // `thing/DATA-A` does not cover the named shadow `thing/DATA-A/firmware`.
    await expect(role.send(new UpdateThingShadowCommand({ thingName: 'DATA-A', shadowName: 'firmware', payload: payload({ state: { desired: { v: 2 } } }) }))).rejects.toMatchObject(forbidden());
    await expect(role.send(new DeleteThingShadowCommand({ thingName: 'DATA-A' }))).rejects.toMatchObject(forbidden());
    await expect(role.send(new UpdateThingShadowCommand({ thingName: 'DATA-B', payload: payload({ state: { reported: { on: true } } }) }))).rejects.toMatchObject(forbidden());
    await expect(role.send(new GetThingShadowCommand({ thingName: 'DATA-B' }))).rejects.toMatchObject(forbidden());

    expect((await role.send(new ListNamedShadowsForThingCommand({ thingName: 'DATA-A' }))).results).toEqual(['config']);
    await expect(role.send(new ListNamedShadowsForThingCommand({ thingName: 'DATA-B' }))).rejects.toMatchObject(forbidden());
    // The refused calls changed nothing.
    await expect(operator.send(new GetThingShadowCommand({ thingName: 'DATA-B' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(operator.send(new GetThingShadowCommand({ thingName: 'DATA-A', shadowName: 'firmware' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(operator.send(new GetThingShadowCommand({ thingName: 'DATA-A' }))).resolves.toBeDefined();
  });

  it('does not check the operator’s key', async () => {
    await expect(operator.send(new PublishCommand({ topic: 'telemetry/other', payload: payload({ n: 4 }) }))).resolves.toBeDefined();
    await expect(operator.send(new UpdateThingShadowCommand({ thingName: 'DATA-B', payload: payload({ state: { reported: { on: false } } }) }))).resolves.toBeDefined();
    await expect(operator.send(new DeleteThingShadowCommand({ thingName: 'DATA-B' }))).resolves.toBeDefined();
  });

  it('refuses a temporary key nobody issued, and a revoked session’s key, as an invalid security token', async () => {
    const unknown = new IoTDataPlaneClient({ credentials: { accessKeyId: 'ASIA123456789012ZZZZ', secretAccessKey: 'x'.repeat(40), sessionToken: 'token' } });
    await expect(unknown.send(new PublishCommand({ topic: 'telemetry/allowed', payload: payload({}) }))).rejects.toMatchObject(
      forbidden('The security token included in the request is invalid.'),
    );
    unknown.destroy();

    const session = stack.core.iam.assumeRole(roleArn, 'revoked');
    const revoked = new IoTDataPlaneClient({ credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken } });
    await expect(revoked.send(new PublishCommand({ topic: 'telemetry/allowed', payload: payload({}) }))).resolves.toBeDefined();
    stack.core.iam.revoke(session.accessKeyId);
    await expect(revoked.send(new PublishCommand({ topic: 'telemetry/allowed', payload: payload({}) }))).rejects.toMatchObject(
      forbidden('The security token included in the request is invalid.'),
    );
    revoked.destroy();
  });
});

describe('policies attached to a thing group', () => {
  let endpoint: Endpoint;
  let caPem: string;
  let device: Identity & { certificateArn: string };

  beforeAll(async () => {
    endpoint = stack.endpoint!;
    caPem = readFileSync(stack.core.endpoints.rootCaFile!, 'utf8');
    // The certificate's own policy grants iot:Connect only; publishing comes from the groups.
    await stack.iot.send(
      new CreatePolicyCommand({
        policyName: 'connect-only',
        policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: arn('client/*') }] }),
      }),
    );
    await stack.iot.send(
      new CreatePolicyCommand({
        policyName: 'fleet-publish',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: arn('topic/fleet/${iot:Connection.Thing.ThingName}/*') }],
        }),
      }),
    );
    await stack.iot.send(
      new CreatePolicyCommand({
        policyName: 'fleet-credentials',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: stack.core.defaultAccount.roleAliases.find(stack.deployed.roleAlias)!.roleAliasArn }],
        }),
      }),
    );
    // fleet ⊃ fleet-eu: the parent's policies are inherited by the child group's things.
    await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
    await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet-eu', parentGroupName: 'fleet' }));
    const fleet = arn('thinggroup/fleet');
    await stack.iot.send(new AttachPolicyCommand({ policyName: 'fleet-publish', target: fleet }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: 'fleet-credentials', target: fleet }));

    await stack.iot.send(new CreateThingCommand({ thingName: 'GROUP-DEV-1' }));
    const issued = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: 'connect-only', target: issued.certificateArn! }));
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: 'GROUP-DEV-1', principal: issued.certificateArn! }));
    device = { certificatePem: issued.certificatePem!, privateKeyPem: issued.keyPair!.PrivateKey!, certificateArn: issued.certificateArn! };
  });

  async function connect(clientId: string): Promise<MqttClient> {
    const { client, error } = await connectOnce(endpoint, device, clientId);
    if (!client) throw new Error(`${clientId} could not connect: ${error}`);
    clients.push(client);
    return client;
  }

  /** Publishes at QoS 1: 'acked' on PUBACK, 'denied' when the broker closes the connection instead. */
  async function publish(client: MqttClient, topic: string): Promise<'acked' | 'denied'> {
    const closed = new Promise<'denied'>((resolve) => client.once('close', () => resolve('denied')));
    const acked = client.publishAsync(topic, '{"t":21}', { qos: 1 }).then(() => 'acked' as const, () => 'denied' as const);
    return Promise.race([acked, closed]);
  }

  const deniedCount = (clientId: string, topic: string) =>
    stack.core.mqtt!.log.filter((entry) => entry.event === 'publish-denied' && entry.detail === `${clientId} → ${topic}`).length;
  const deniedLogged = (clientId: string, topic: string) => deniedCount(clientId, topic) > 0;

  it('denies a publish while the thing is in no group (the certificate grants iot:Connect only)', async () => {
    const client = await connect('GROUP-DEV-1');
    expect(await publish(client, 'fleet/GROUP-DEV-1/telemetry')).toBe('denied');
    expect(deniedLogged('GROUP-DEV-1', 'fleet/GROUP-DEV-1/telemetry')).toBe(true);
  });

  it('lets the thing publish through its group’s parent policy, only where that policy allows, and not once it leaves the group', async () => {
    await stack.iot.send(new AddThingToThingGroupCommand({ thingName: 'GROUP-DEV-1', thingGroupName: 'fleet-eu' }));
    const client = await connect('GROUP-DEV-1');
    expect(await publish(client, 'fleet/GROUP-DEV-1/telemetry')).toBe('acked');
    // The one denial logged is the earlier test's.
    expect(deniedCount('GROUP-DEV-1', 'fleet/GROUP-DEV-1/telemetry')).toBe(1);
    expect(await publish(client, 'elsewhere/GROUP-DEV-1')).toBe('denied');

    await stack.iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'GROUP-DEV-1', thingGroupName: 'fleet-eu' }));
    // Membership is read at each publish: a connection loses the group's permission with it.
    const again = await connect('GROUP-DEV-1');
    expect(await publish(again, 'fleet/GROUP-DEV-1/status')).toBe('denied');
    expect(deniedLogged('GROUP-DEV-1', 'fleet/GROUP-DEV-1/status')).toBe(true);
  });

  it('does not give the group’s policies to a connection whose client id is not the thing’s name', async () => {
    await stack.iot.send(new AddThingToThingGroupCommand({ thingName: 'GROUP-DEV-1', thingGroupName: 'fleet-eu' }));
    const client = await connect('someone-else');
    expect(await publish(client, 'fleet/GROUP-DEV-1/telemetry')).toBe('denied');
    expect(deniedLogged('someone-else', 'fleet/GROUP-DEV-1/telemetry')).toBe(true);
  });

  it('lets the credential provider answer for the thing the header names, through its group’s policy', async () => {
    // The thing is in fleet-eu (the test before): fleet's policy allows iot:AssumeRoleWithCertificate.
    const ask = (thingName?: string) =>
      fetchRoleCredentials({ endpoint: stack.core.endpoints.credentials!, roleAlias: stack.deployed.roleAlias, identity: device, caPem, ...(thingName ? { thingName } : {}) });
    const answer = await ask('GROUP-DEV-1');
    expect('credentials' in answer ? answer.credentials.accessKeyId : answer).toMatch(/^ASIA/);
    // Without the header the provider knows no thing, and the certificate's own policy does not allow it.
    expect(await ask()).toEqual({ status: 403, message: expect.stringMatching(/not allowed to assume/) });

    await stack.iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'GROUP-DEV-1', thingGroupName: 'fleet-eu' }));
    expect(await ask('GROUP-DEV-1')).toEqual({ status: 403, message: expect.stringMatching(/not allowed to assume/) });
  });
});
