import { UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { createCa, issueCertificate } from '../../lib/pki';
import { inProcessConnector } from '../../local/in-process-connector';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The bench's connector into the local broker without TLS (local/in-process-connector.ts,
 * MqttEndpoint.connectInProcess): the chain is judged as the TLS layer judges it, and everything after is the
 * broker's own path — the CONNECT decision, the device policy, the lifecycle event naming the certificate.
 */

let stack: LocalStack;
const presence: Array<{ eventType: string; clientId: string; principalIdentifier: string }> = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  const { region, accountId } = stack.core.endpoints;
  stack.core.addFunction({
    functionName: 'in-process-presence',
    handler: async (event) => {
      presence.push(event as (typeof presence)[number]);
      return null;
    },
  });
  stack.core.addRule({
    ruleName: 'inProcessPresence',
    sql: "SELECT * FROM '$aws/events/presence/connected/+'",
    actions: [{ lambda: { functionArn: `arn:aws:lambda:${region}:${accountId}:function:in-process-presence` } }],
  });
});

afterAll(async () => {
  await stack.close();
});

/** A device through JITR, ACTIVE with the stack's device policy. */
async function activeDevice(thing: string) {
  const device = await stack.device(thing, { registry: 'allow' });
  expect(stack.core.firstConnect(stack.chain(device), stack.dataEndpoint).accepted).toBe(false);
  await stack.core.idle();
  expect((await stack.state(device)).status).toBe('ACTIVE');
  return { device, identity: { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem } };
}

describe('the in-process connector', () => {
  it('connects an ACTIVE device under its policy: own topics allowed, another thing refused, the lifecycle event names the certificate', async () => {
    const { device, identity } = await activeDevice('INPROC-1');
    const connect = inProcessConnector(stack.core.mqtt!, { serverName: stack.dataEndpoint, timeoutMs: 3_000 });

    const connection = await connect(identity, 'INPROC-1');

    await expect(connection.publish('device/INPROC-1/rotation/csr', '{}')).resolves.toBeUndefined();
    await expect(connection.publish('device/OTHER/rotation/csr', '{}')).rejects.toThrow(/Not authorized/i);
    await expect(connection.subscribe(['$aws/things/OTHER/jobs/notify-next'])).rejects.toThrow(/Not authorized/i);
    await stack.core.idle();
    expect(presence).toContainEqual(expect.objectContaining({ eventType: 'connected', clientId: 'INPROC-1', principalIdentifier: device.certificateId }));
    await connection.close();
  });

  it('refuses a revoked certificate at CONNECT and an unknown chain at the handshake', async () => {
    const { device, identity } = await activeDevice('INPROC-2');
    await stack.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'REVOKED' }));
    const connect = inProcessConnector(stack.core.mqtt!, { serverName: stack.dataEndpoint, timeoutMs: 3_000 });

    await expect(connect(identity, 'INPROC-2')).rejects.toThrow(/connection refused/);
    const stranger = await issueCertificate(await createCa({ commonName: 'Unregistered CA' }), { subject: { serialNumber: 'INPROC-3' } });
    await expect(connect({ certificatePem: stranger.certificatePem, privateKeyPem: stranger.privateKeyPem }, 'INPROC-3')).rejects.toThrow(/tls: unknown-certificate-authority/);
    expect(presence.some((p) => p.principalIdentifier === device.certificateId && p.clientId === 'INPROC-2')).toBe(false);
  });

  it('receives what the service publishes to its subscriptions (iot:Receive applies)', async () => {
    const { identity } = await activeDevice('INPROC-4');
    const connection = await inProcessConnector(stack.core.mqtt!, { serverName: stack.dataEndpoint })(identity, 'INPROC-4');
    const received: string[] = [];
    connection.onMessage((topic) => received.push(topic));
    await connection.subscribe(['device/INPROC-4/rotation/certificate']);

    stack.core.mqtt!.deliver(stack.core.defaultAccount, 'device/INPROC-4/rotation/certificate', Buffer.from('{}'), 1);
    for (let i = 0; i < 50 && !received.length; i++) await new Promise((resolve) => setTimeout(resolve, 20));

    expect(received).toEqual(['device/INPROC-4/rotation/certificate']);
    await connection.close();
  });
});
