import { LocalIotCore } from '../../local/local-iot-core';
import { createCa, deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';

/**
 * The local IoT Core's first-connect behaviour (aws-iot-reference §1–2): TLS checks, SNI routing between
 * accounts, JITR registration and the registered event, as a topic rule receives it.
 */

const DAY = 86_400_000;
let core: LocalIotCore;
let ca: KeyedCertificate;
const events: Array<{ account: string; event: Record<string, unknown> }> = [];
const endpoint = (accountId: string) => core.registry.account(accountId).endpoint('iot:Data-ATS');

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false } });
  ca = await createCa({ commonName: 'MyDeviceRootCA' });
  for (const accountId of ['111111111111', '222222222222']) {
    const account = core.registry.account(accountId);
    account.certificates.registerCa({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true });
    core.addFunction({
      functionName: 'capture',
      accountId,
      handler: async (event) => {
        events.push({ account: accountId, event: event as Record<string, unknown> });
      },
    });
    core.addRule(
      {
        ruleName: 'capture',
        sql: "SELECT * FROM '$aws/events/certificates/registered/+'",
        actions: [{ lambda: { functionArn: `arn:aws:lambda:us-east-1:${accountId}:function:capture` } }],
      },
      account,
    );
  }
});

afterAll(async () => {
  await core.close();
});

beforeEach(() => {
  events.length = 0;
});

describe('first connect', () => {
  it('registers an unknown certificate PENDING_ACTIVATION, publishes the registered event, and closes the connection', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'DEVICE123456' } });
    const result = core.firstConnect(deviceChain(device, ca), endpoint('111111111111'));
    await core.idle();

    expect(result).toEqual({ accepted: false, stage: 'connect', reason: 'certificate-pending-activation', certificateId: device.certificateId, registered: true });
    expect(events).toEqual([
      {
        account: '111111111111',
        event: {
          certificateId: device.certificateId,
          caCertificateId: ca.certificateId,
          timestamp: expect.any(Number),
          certificateStatus: 'PENDING_ACTIVATION',
          awsAccountId: '111111111111',
          certificateRegistrationTimestamp: expect.stringMatching(/^\d{13}$/),
        },
      },
    ]);
    expect(core.registry.account('111111111111').certificates.find(device.certificateId)?.status).toBe('PENDING_ACTIVATION');
  });

  it('publishes the event again on every reconnect while the certificate is pending', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'REPEAT-1' } });
    for (let i = 0; i < 3; i++) core.firstConnect(deviceChain(device, ca), endpoint('111111111111'));
    await core.idle();
    expect(events.filter((e) => e.event.certificateId === device.certificateId)).toHaveLength(3);
    expect(core.registry.account('111111111111').certificates.find(device.certificateId)?.certificateMode).toBe('SNI_ONLY');
  });

  it('routes by SNI: the same CA registered in two accounts registers each device in the account it addresses (seed 000)', async () => {
    const a = await issueCertificate(ca, { subject: { serialNumber: 'DEVICE-A' } });
    const b = await issueCertificate(ca, { subject: { serialNumber: 'DEVICEB001' } });
    core.firstConnect(deviceChain(a, ca), endpoint('111111111111'));
    core.firstConnect(deviceChain(b, ca), endpoint('222222222222'));
    await core.idle();
    expect(events.map((e) => [e.account, e.event.certificateId])).toEqual(
      expect.arrayContaining([
        ['111111111111', a.certificateId],
        ['222222222222', b.certificateId],
      ]),
    );
    expect(core.registry.account('222222222222').certificates.find(a.certificateId)).toBeUndefined();
  });

  it('accepts a bare device certificate as well as the device + CA chain', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'BARE-1' } });
    expect(core.firstConnect(device.certificatePem, endpoint('111111111111'))).toMatchObject({ registered: true });
  });

  it('accepts an ACTIVE certificate', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'ACTIVE-1' } });
    const account = core.registry.account('111111111111');
    account.certificates.register({ certificatePem: device.certificatePem, status: 'ACTIVE' });
    expect(core.firstConnect(deviceChain(device, ca), endpoint('111111111111'))).toMatchObject({ accepted: true });
  });

  it.each<[string, () => Promise<{ chain: string; serverName?: string }>, { stage: string; reason: string }]>([
    [
      'SNI_ONLY certificates without SNI',
      async () => ({ chain: (await issueCertificate(ca, { subject: { serialNumber: 'NOSNI' } })).certificatePem }),
      { stage: 'tls', reason: 'sni-required' },
    ],
    [
      'an SNI that names no account endpoint',
      async () => ({ chain: (await issueCertificate(ca, { subject: { serialNumber: 'X' } })).certificatePem, serverName: 'example.com' }),
      { stage: 'tls', reason: 'unknown-endpoint' },
    ],
    [
      'an expired certificate',
      async () => ({
        chain: (await issueCertificate(ca, { subject: { serialNumber: 'OLD' }, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })).certificatePem,
        serverName: endpoint('111111111111'),
      }),
      { stage: 'tls', reason: 'certificate-expired' },
    ],
    [
      'a certificate that is not yet valid',
      async () => ({
        chain: (await issueCertificate(ca, { subject: { serialNumber: 'NEW' }, notBefore: new Date(Date.now() + DAY) })).certificatePem,
        serverName: endpoint('111111111111'),
      }),
      { stage: 'tls', reason: 'certificate-not-yet-valid' },
    ],
    [
      'a certificate from an unregistered CA',
      async () => {
        const stranger = await createCa({ commonName: 'Stranger' });
        return { chain: (await issueCertificate(stranger, { subject: { serialNumber: 'S' } })).certificatePem, serverName: endpoint('111111111111') };
      },
      { stage: 'tls', reason: 'unknown-certificate-authority' },
    ],
    [
      'something that is not a certificate',
      async () => ({ chain: 'hello', serverName: endpoint('111111111111') }),
      { stage: 'tls', reason: 'no-client-certificate' },
    ],
  ])('refuses %s without registering anything', async (_, make, expected) => {
    const { chain, serverName } = await make();
    const before = core.registry.allAccounts().map((a) => a.certificates.all().length);
    expect(core.firstConnect(chain, serverName)).toMatchObject({ accepted: false, ...expected });
    await core.idle();
    expect(core.registry.allAccounts().map((a) => a.certificates.all().length)).toEqual(before);
    expect(events).toEqual([]);
  });

  it('does not register certificates of a CA with auto-registration off, or of an INACTIVE CA', async () => {
    const quiet = await createCa({ commonName: 'Quiet CA' });
    const account = core.registry.account('111111111111');
    const { certificateId } = account.certificates.registerCa({ caCertificate: quiet.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true });
    const device = await issueCertificate(quiet, { subject: { serialNumber: 'Q1' } });
    expect(core.firstConnect(device.certificatePem, endpoint('111111111111'))).toMatchObject({ stage: 'connect', reason: 'auto-registration-disabled' });
    account.certificates.updateCa(certificateId, { newStatus: 'INACTIVE', newAutoRegistrationStatus: 'ENABLE' });
    expect(core.firstConnect(device.certificatePem, endpoint('111111111111'))).toMatchObject({ stage: 'connect', reason: 'ca-certificate-inactive' });
    expect(account.certificates.find(device.certificateId)).toBeUndefined();
  });

  it('registers at most 15 certificates a second per account (JITR registration quota), refusing the rest until they retry', async () => {
    const throttled = await LocalIotCore.start();
    try {
      const account = throttled.registry.account();
      account.certificates.registerCa({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true });
      const sni = account.endpoint('iot:Data-ATS');
      const devices = await Promise.all(Array.from({ length: 25 }, (_, i) => issueCertificate(ca, { subject: { serialNumber: `Q-${i}` } })));
      const results = devices.map((d) => throttled.firstConnect(d.certificatePem, sni));
      const reasons = results.map((r) => (r.accepted ? 'accepted' : r.reason));
      expect(reasons.filter((r) => r === 'certificate-pending-activation').length).toBeLessThanOrEqual(16);
      expect(reasons.filter((r) => r === 'registration-throttled').length).toBeGreaterThanOrEqual(9);
      expect(throttled.traffic.stats.throttled['JITR registration']).toBeGreaterThanOrEqual(9);
    } finally {
      await throttled.close();
    }
  });
});
