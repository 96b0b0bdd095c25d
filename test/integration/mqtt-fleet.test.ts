import { CreateProvisioningTemplateCommand, CreateProvisioningClaimCommand, DescribeCertificateCommand, UpdateCertificateCommand, DescribeThingCommand, ListThingGroupsForThingCommand, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { connectOnce, runFleetDevice, runJitrDevice, type Endpoint, type Identity } from '../../local/sandbox/simulator';
import type { KeyedCertificate } from '../../lib/pki';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient } from '../../shared/aws/clients';
import { describeCertificate } from '../../shared/aws/iot/certificates';
import { iotCalls } from '../../shared/aws/iot/calls';
import { expiringBy, issuedBy } from '../../shared/aws/registry/expiry-index';
import { DAY_MS, dueCertificates } from '../../shared/expiry/sweep';

/**
 * Devices over real MQTT with mutual TLS against the local IoT Core: JITR first connect, IoT policy
 * enforcement, and fleet provisioning with both certificate APIs, trusted-user claims, ownership-token
 * and claim expiry, and takeovers.
 */

let stack: LocalStack;
let endpoint: Endpoint;
let clockOffsetMs = 0;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, now: () => new Date(Date.now() + clockOffsetMs) } });
  endpoint = stack.endpoint!;
});

afterAll(async () => {
  await stack.close();
});

afterEach(() => {
  clockOffsetMs = 0;
});

const identityOf = (device: KeyedCertificate): Identity => ({ certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem });

async function vendClaim(forDevice?: string): Promise<Identity & { templateName: string }> {
  const response = await fetch(`${stack.core.endpoints.http}/provisioning-claims`, {
    method: 'POST',
    headers: { authorization: await stack.core.issueToken('operator@example.com', { groups: ['technicians'] }) },
    body: JSON.stringify(forDevice ? { deviceId: forDevice } : {}),
  });
  expect(response.status).toBe(201);
  const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
  return { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey, templateName: claim.templateName };
}

describe('JITR over MQTT/TLS', () => {
  it('drops a new device on its first connect and lets it in once the handler activated it', async () => {
    const device = await stack.device('MQTT-JITR-1', { registry: 'allow' });
    const result = await runJitrDevice({ endpoint, identity: identityOf(device), clientId: 'MQTT-JITR-1', maxAttempts: 3, backoffMs: 50, betweenAttempts: () => stack.core.idle() });
    expect(result).toMatchObject({ connected: true, attempts: 2, published: true });
    expect(result.errors[0]).toMatch(/Not authorized/i);
    expect((await stack.state(device)).status).toBe('ACTIVE');
  });

  it('keeps a not allow-listed device out for good', async () => {
    const device = await stack.device('MQTT-JITR-2');
    const result = await runJitrDevice({ endpoint, identity: identityOf(device), clientId: 'MQTT-JITR-2', maxAttempts: 3, backoffMs: 50, betweenAttempts: () => stack.core.idle() });
    expect(result.connected).toBe(false);
    expect((await stack.state(device)).status).toBe('REVOKED');
  });

  it('enforces the device policy: own client id and topics only; a foreign subscription or publish closes the connection (MQTT 3.1.1)', async () => {
    const device = await stack.device('MQTT-JITR-3', { registry: 'allow' });
    await runJitrDevice({ endpoint, identity: identityOf(device), clientId: 'MQTT-JITR-3', maxAttempts: 2, backoffMs: 50, betweenAttempts: () => stack.core.idle() });

    // iot:Connect denied: AWS closes a 3.1.1 connection without a CONNACK (local/README.md, note 3).
    const wrongClientId = await connectOnce(endpoint, identityOf(device), 'someone-else');
    expect(wrongClientId.error).toBe('connection closed');
    expect(stack.core.mqtt!.log.at(-1)).toMatchObject({ event: 'refused', detail: 'connect someone-else: iot:Connect not allowed' });

    const subscriber = await connectOnce(endpoint, identityOf(device), 'MQTT-JITR-3');
    await expect(subscriber.client!.subscribeAsync('device/MQTT-JITR-3/commands', { qos: 1 })).resolves.toEqual([expect.objectContaining({ qos: 1 })]);
    await expect(subscriber.client!.subscribeAsync('device/OTHER/commands', { qos: 1 })).rejects.toThrow(/Connection closed/);
    subscriber.client!.end(true);

    const { client } = await connectOnce(endpoint, identityOf(device), 'MQTT-JITR-3');
    const closed = new Promise<void>((resolve) => client!.once('close', () => resolve()));
    client!.publish('device/OTHER/telemetry', 'spoof', { qos: 1 });
    await closed;
    expect(stack.core.mqtt!.log.some((entry) => entry.event === 'publish-denied' && entry.detail.includes('device/OTHER/telemetry'))).toBe(true);
    client!.end(true);
  });
});

describe('fleet provisioning over MQTT/TLS', () => {
  it('provisions an allow-listed serial with create-from-csr; the thing gets the registry’s group; the device reconnects and publishes', async () => {
    await stack.registry.allow('FLEET-A', { thingGroup: 'fleet-a' }, new Date());
    const { CreateThingGroupCommand } = await import('@aws-sdk/client-iot');
    await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet-a' }));
    const claim = await vendClaim();

    const result = await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'FLEET-A', api: 'create-from-csr' });

    expect(result).toMatchObject({ outcome: 'provisioned', thingName: 'FLEET-A', connected: true, published: true });
    if (result.outcome !== 'provisioned') return;
    const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId: result.certificateId }));
    expect(certificateDescription?.status).toBe('ACTIVE');
    expect((await stack.iot.send(new DescribeThingCommand({ thingName: 'FLEET-A' }))).thingTypeName).toBe(stack.deployed.thingTypeName);
    const { thingGroups } = await stack.iot.send(new ListThingGroupsForThingCommand({ thingName: 'FLEET-A' }));
    expect(thingGroups?.map((g) => g.groupName)).toEqual(['fleet-a']);
    expect(await stack.registry.get('FLEET-A')).toMatchObject({ certificateId: result.certificateId, lastProvisioning: { outcome: 'allowed' } });
  });

  it('records the fleet certificate’s validity and issuer at the hook’s claim, and the expiry sweep finds it by age once AWS IoT made it ACTIVE', async () => {
    await stack.registry.allow('FLEET-AGE', {}, new Date());
    const result = await runFleetDevice({ endpoint, claim: await vendClaim(), templateName: stack.deployed.templateName, serialNumber: 'FLEET-AGE', api: 'create' });
    expect(result.outcome).toBe('provisioned');
    if (result.outcome !== 'provisioned') return;
    // RegisterThing ended inside AWS IoT: the registry's last write is the hook's claim, which carries the facts.
    const entry = await stack.registry.get('FLEET-AGE');
    expect(entry).toMatchObject({ bindingState: 'claimed', certificateId: result.certificateId, issuer: { awsIot: true }, expiryShard: expect.stringMatching(/^[0-3]$/) });
    const { certificateDescription } = await stack.iot.send(new DescribeCertificateCommand({ certificateId: result.certificateId }));
    expect(entry?.notAfter).toBe(certificateDescription?.validity?.notAfter?.toISOString());

    // The sweep's own adapters (the registry's expiry indexes, DescribeCertificate) at a day 400 days from now.
    const index = bindCalls({ client: createDocumentClient(), tableName: stack.deployed.tableName }, { expiringBy, issuedBy });
    const iot = iotCalls(stack.iot, { describeCertificate });
    const later = new Date(Date.now() + 400 * DAY_MS);
    const due = await dueCertificates(index, { expiringWithinDays: 30, olderThanDays: 365 }, later, iot);
    expect(due.filter((f) => f.deviceId === 'FLEET-AGE')).toEqual([expect.objectContaining({ certificateId: result.certificateId, reasons: ['aged'], issuer: expect.objectContaining({ awsIot: true }) })]);

    // Once the certificate is no longer ACTIVE, the claimed entry is not a binding the sweep reports.
    await stack.iot.send(new UpdateCertificateCommand({ certificateId: result.certificateId, newStatus: 'INACTIVE' }));
    expect((await dueCertificates(index, { expiringWithinDays: 30, olderThanDays: 365 }, later, iot)).map((f) => f.deviceId)).not.toContain('FLEET-AGE');
  });

  it('provisions with a claim vended for the device, and refuses that claim for any other device (claim-not-for-device)', async () => {
    await stack.registry.allow('FLEET-FOR-1', {}, new Date());
    await stack.registry.allow('FLEET-FOR-2', {}, new Date());
    const claim = await vendClaim('FLEET-FOR-1');
    const other = await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'FLEET-FOR-2', api: 'create' });
    expect(other).toMatchObject({ outcome: 'refused', step: 'provision', errorCode: 'AccessDenied' });
    expect((await stack.registry.get('FLEET-FOR-2'))?.lastProvisioning).toMatchObject({ outcome: 'denied', reason: 'claim-not-for-device' });
    const own = await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'FLEET-FOR-1', api: 'create' });
    expect(own).toMatchObject({ outcome: 'provisioned', thingName: 'FLEET-FOR-1', connected: true });
  });

  it('provisions with CreateKeysAndCertificate (the key generated by the service)', async () => {
    await stack.registry.allow('FLEET-B', {}, new Date());
    const claim = await vendClaim();
    const result = await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'FLEET-B', api: 'create' });
    expect(result).toMatchObject({ outcome: 'provisioned', thingName: 'FLEET-B', connected: true });
  });

  it('refuses a takeover: a second device with the serial of a provisioned one gets AccessDenied and changes nothing', async () => {
    await stack.registry.allow('FLEET-C', {}, new Date());
    const first = await runFleetDevice({ endpoint, claim: await vendClaim(), templateName: stack.deployed.templateName, serialNumber: 'FLEET-C' });
    expect(first.outcome).toBe('provisioned');
    const principals = await stack.iot.send(new ListThingPrincipalsCommand({ thingName: 'FLEET-C' }));

    const intruder = await runFleetDevice({ endpoint, claim: await vendClaim(), templateName: stack.deployed.templateName, serialNumber: 'FLEET-C' });

    expect(intruder).toMatchObject({ outcome: 'refused', step: 'provision', errorCode: 'AccessDenied' });
    expect((await stack.registry.get('FLEET-C'))?.lastProvisioning).toMatchObject({ outcome: 'denied', reason: 'device-already-bound' });
    expect(await stack.iot.send(new ListThingPrincipalsCommand({ thingName: 'FLEET-C' }))).toMatchObject({ principals: principals.principals });
  });

  it('refuses a RegisterThing with an expired ownership token and deletes the certificate an hour after it was created', async () => {
    await stack.registry.allow('FLEET-D', {}, new Date());
    // A long-lived factory claim (provisioning by claim): an ACTIVE certificate with the stack's claim policy.
    const { CreateKeysAndCertificateCommand, AttachPolicyCommand } = await import('@aws-sdk/client-iot');
    const factory = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new AttachPolicyCommand({ policyName: stack.deployed.claimPolicyName, target: factory.certificateArn }));
    const claim = { certificatePem: factory.certificatePem!, privateKeyPem: factory.keyPair!.PrivateKey!, templateName: stack.deployed.templateName };
    const { client } = await connectOnce(endpoint, claim, 'claim-FLEET-D');
    const accepted = new Promise<Record<string, string>>((resolve) =>
      client!.on('message', (topic, payload) => topic.endsWith('/accepted') && resolve(JSON.parse(payload.toString()))),
    );
    await client!.subscribeAsync(['$aws/certificates/create/json/accepted', `$aws/provisioning-templates/${claim.templateName}/provision/json/+`]);
    client!.publish('$aws/certificates/create/json', '{}');
    const created = await accepted;

    clockOffsetMs = 61 * 60_000;
    const rejected = new Promise<Record<string, unknown>>((resolve) =>
      client!.on('message', (topic, payload) => topic.endsWith('/provision/json/rejected') && resolve(JSON.parse(payload.toString()))),
    );
    client!.publish(`$aws/provisioning-templates/${claim.templateName}/provision/json`, JSON.stringify({ certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: 'FLEET-D' } }));
    expect(await rejected).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
    client!.end(true);
    await expect(stack.iot.send(new DescribeCertificateCommand({ certificateId: created.certificateId }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('refuses a claim certificate more than 5 minutes after it was issued', async () => {
    const claim = await vendClaim();
    clockOffsetMs = 6 * 60_000;
    const { client, error } = await connectOnce(endpoint, claim, 'late-claim');
    expect(client).toBeUndefined();
    expect(error).toBeDefined();
    expect(stack.core.mqtt!.log.at(-1)).toMatchObject({ event: 'refused', detail: expect.stringMatching(/expired/) });
  });

  it('lets a claim be used for its own template only', async () => {
    await stack.iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'other-template',
        templateBody: JSON.stringify({ Parameters: { SerialNumber: { Type: 'String' } }, Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'SerialNumber' } } } } }),
        provisioningRoleArn: 'arn:aws:iam::123456789012:role/provisioning',
        enabled: true,
      }),
    );
    const other = await stack.iot.send(new CreateProvisioningClaimCommand({ templateName: 'other-template' }));
    const result = await runFleetDevice({
      endpoint,
      claim: { certificatePem: other.certificatePem!, privateKeyPem: other.keyPair!.PrivateKey! },
      templateName: stack.deployed.templateName,
      serialNumber: 'FLEET-E',
    });
    // The claim's implicit policy only covers its template's topics.
    expect(result).toMatchObject({ outcome: 'refused', step: 'provision', errorCode: 'SubscriptionRefused' });
  });

  it('answers a request on the requesting connection only', async () => {
    const a = await connectOnce(endpoint, await vendClaim(), 'claim-a');
    const b = await connectOnce(endpoint, await vendClaim(), 'claim-b');
    const received: string[] = [];
    b.client!.on('message', (topic) => received.push(topic));
    await b.client!.subscribeAsync('$aws/certificates/create/json/accepted');
    await a.client!.subscribeAsync('$aws/certificates/create/json/accepted');
    const gotA = new Promise((resolve) => a.client!.once('message', resolve));
    a.client!.publish('$aws/certificates/create/json', '{}');
    await gotA;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual([]);
    a.client!.end(true);
    b.client!.end(true);
  });
});

describe('the claim endpoint behind the JWT authorizer', () => {
  const post = (authorization?: string) =>
    fetch(`${stack.core.endpoints.http}/provisioning-claims`, { method: 'POST', headers: authorization ? { authorization } : {}, body: '{}' });

  it.each([
    ['no token', undefined],
    ['a malformed token', 'Bearer not-a-jwt'],
  ])('answers 401 to %s, as API Gateway does', async (_, token) => {
    const response = await post(token);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
  });

  it('answers 401 to an expired token', async () => {
    const token = await stack.core.issueToken('operator@example.com', { groups: ['technicians'], ttlSeconds: 60 });
    clockOffsetMs = 2 * 60_000;
    expect((await post(token)).status).toBe(401);
  });

  it('answers 401 to a token with a forged signature', async () => {
    const [header, payload] = (await stack.core.issueToken('operator@example.com', { groups: ['technicians'] })).split('.');
    expect((await post(`${header}.${payload}.${Buffer.from('forged').toString('base64url')}`)).status).toBe(401);
  });

  it('accepts "Bearer <token>" and answers 404 for routes that do not exist', async () => {
    expect((await post(`Bearer ${await stack.core.issueToken('operator@example.com', { groups: ['technicians'] })}`)).status).toBe(201);
    expect((await fetch(`${stack.core.endpoints.http}/nothing`, { method: 'POST' })).status).toBe(404);
  });
});
