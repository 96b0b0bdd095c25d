import { readBoundCertificateFacts } from '../../shared/certificates/certificate-facts';
import type { BoundCertificate, ExpiryFinding, ExpiryIndex } from '../../shared/expiry/ports';
import { DAY_MS, dueCertificates, dueReasons, sweepCertificates, SweepIncompleteError, type SweepPolicy } from '../../shared/expiry/sweep';
import { createCa, issueCertificate } from '../../lib/pki';
import { loadExpirySweepConfig } from '../../shared/config';
import { EXPIRY_INDEXES } from '../../shared/aws/registry/expiry-index';
import { EXPIRY_SHARDS, expiryShardOf } from '../../shared/aws/registry/entries';
import { loadStack } from '../../lib/stack';

const NOW = new Date('2027-03-01T12:00:00Z');
const POLICY: SweepPolicy = { expiringWithinDays: 30, olderThanDays: 365 };
const days = (n: number) => new Date(NOW.getTime() + n * DAY_MS);
// AWS IoT's own certificates: valid until 2049-12-31 (aws-iot-reference, "Certificates issued by AWS IoT").
const AWS_NOT_AFTER = new Date('2049-12-31T23:59:59Z');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const bound = (deviceId: string, notBefore: Date, notAfter: Date, extra: Partial<BoundCertificate> = {}): BoundCertificate => ({
  deviceId,
  certificateId: deviceId.padEnd(64, '0').slice(0, 64),
  thingName: deviceId,
  bindingState: 'bound',
  notBefore,
  notAfter,
  issuer: { subject: 'CN=Device CA', awsIot: false },
  ...extra,
});

/** An in-memory index that answers as the sparse indexes do: `<=` on the sort key. */
const indexOf = (entries: BoundCertificate[]): ExpiryIndex => ({
  async *expiringBy(at) {
    for (const e of entries) if (e.notAfter.getTime() <= at.getTime()) yield e;
  },
  async *issuedBy(at) {
    for (const e of entries) if (e.notBefore.getTime() <= at.getTime()) yield e;
  },
});

/** AWS IoT's answer for each certificate id (absent: no such certificate); records which ids were asked for. */
const statuses = (byId: Record<string, string> = {}) => {
  const asked: string[] = [];
  return {
    asked,
    async describeCertificate(certificateId: string) {
      asked.push(certificateId);
      const status = byId[certificateId];
      return status ? { status } : undefined;
    },
  };
};
const certificateIdOf = (deviceId: string) => deviceId.padEnd(64, '0').slice(0, 64);

describe('dueReasons', () => {
  it.each<[string, Date, Date, SweepPolicy, string[]]>([
    ['expires in exactly 30 days (the bound is inclusive)', days(-10), days(30), POLICY, ['expiring']],
    ['expires 30 days and one second from now', days(-10), new Date(days(30).getTime() + 1000), POLICY, []],
    ['expires tomorrow', days(-10), days(1), POLICY, ['expiring']],
    ['expired a second ago', days(-10), new Date(NOW.getTime() - 1000), POLICY, ['expired']],
    ['expires right now', days(-10), NOW, POLICY, ['expired']],
    ['an AWS IoT certificate exactly 365 days old', days(-365), AWS_NOT_AFTER, POLICY, ['aged']],
    ['an AWS IoT certificate 364 days old', days(-364), AWS_NOT_AFTER, POLICY, []],
    ['an AWS IoT certificate 3 years old', days(-3 * 365), AWS_NOT_AFTER, POLICY, ['aged']],
    ['old and expiring', days(-400), days(5), POLICY, ['expiring', 'aged']],
    ['expiring with the warning off', days(-10), days(5), { expiringWithinDays: 0, olderThanDays: 365 }, []],
    ['expired with the warning off: still due', days(-10), days(-1), { expiringWithinDays: 0, olderThanDays: 365 }, ['expired']],
    ['old with the age check off', days(-4000), AWS_NOT_AFTER, { expiringWithinDays: 30, olderThanDays: 0 }, []],
  ])('%s → %j', (_, notBefore, notAfter, policy, expected) => {
    expect(dueReasons({ notBefore, notAfter }, policy, NOW)).toEqual(expected);
  });
});

describe('dueCertificates', () => {
  it('finds exactly the certificates due, one finding per device, and ignores fresh, far and unbound ones', async () => {
    const index = indexOf([
      bound('expiring-soon', days(-100), days(10)),
      bound('expiring-later', days(-100), days(31)),
      bound('aws-aged', days(-400), AWS_NOT_AFTER, { issuer: { subject: 'CN=AWS IoT issuing CA', awsIot: true } }),
      bound('aws-fresh', days(-30), AWS_NOT_AFTER, { issuer: { subject: 'CN=AWS IoT issuing CA', awsIot: true } }),
      bound('both', days(-500), days(3)),
      // A claim in progress is not a binding (the index should not have it; the rule refuses it anyway).
      bound('claimed-only', days(-500), days(3), { bindingState: 'claimed' }),
    ]);
    const findings = await dueCertificates(index, POLICY, NOW, statuses());
    expect(findings.map((f) => [f.deviceId, f.reasons])).toEqual([
      ['aws-aged', ['aged']],
      ['both', ['expiring', 'aged']],
      ['expiring-soon', ['expiring']],
    ]);
    expect(findings.find((f) => f.deviceId === 'aws-aged')).toMatchObject({ ageDays: 400, issuer: { awsIot: true }, notAfter: AWS_NOT_AFTER.toISOString(), sweptAt: NOW.toISOString() });
    expect(findings.find((f) => f.deviceId === 'expiring-soon')).toMatchObject({ daysLeft: 10, ageDays: 100, kind: 'certificate-expiry' });
  });

  it('finds nothing in an index without bound certificates (entries bound before facts were recorded are not in it)', async () => {
    expect(await dueCertificates(indexOf([]), POLICY, NOW, statuses())).toEqual([]);
  });
});

describe('dueCertificates on fleet devices (claimed by the hook, activated inside AWS IoT)', () => {
  const awsIot = { issuer: { subject: 'CN=AWS IoT issuing CA', awsIot: true }, bindingState: 'claimed' };
  it('counts a claimed certificate that AWS IoT reports ACTIVE, and no claim whose certificate is pending, inactive, revoked or gone', async () => {
    const index = indexOf([
      bound('fleet-active', days(-400), AWS_NOT_AFTER, awsIot),
      bound('fleet-pending', days(-400), AWS_NOT_AFTER, awsIot),
      bound('fleet-inactive', days(-400), AWS_NOT_AFTER, awsIot),
      bound('fleet-revoked', days(-400), AWS_NOT_AFTER, awsIot),
      bound('fleet-gone', days(-400), AWS_NOT_AFTER, awsIot),
      bound('fleet-young', days(-10), AWS_NOT_AFTER, awsIot),
    ]);
    const iot = statuses({
      [certificateIdOf('fleet-active')]: 'ACTIVE',
      [certificateIdOf('fleet-pending')]: 'PENDING_ACTIVATION',
      [certificateIdOf('fleet-inactive')]: 'INACTIVE',
      [certificateIdOf('fleet-revoked')]: 'REVOKED',
      [certificateIdOf('fleet-young')]: 'ACTIVE',
    });
    const findings = await dueCertificates(index, POLICY, NOW, iot);
    expect(findings.map((f) => [f.deviceId, f.reasons])).toEqual([['fleet-active', ['aged']]]);
    // Only due claims are looked up: the young device is not due, so AWS IoT is not asked about it.
    expect(iot.asked).not.toContain(certificateIdOf('fleet-young'));
    expect(iot.asked).toHaveLength(5);
  });

  it('never asks AWS IoT about a bound certificate', async () => {
    const iot = statuses();
    const findings = await dueCertificates(indexOf([bound('jitr', days(-10), days(2))]), POLICY, NOW, iot);
    expect(findings.map((f) => f.deviceId)).toEqual(['jitr']);
    expect(iot.asked).toEqual([]);
  });
});

describe('sweepCertificates', () => {
  it('publishes each due finding once', async () => {
    const published: ExpiryFinding[] = [];
    const summary = await sweepCertificates({
      index: indexOf([bound('a', days(-10), days(2)), bound('b', days(-10), days(200))]),
      iot: statuses(),
      findings: { publish: async (f) => void published.push(f) },
      policy: POLICY,
      now: () => NOW,
      log: silent,
    });
    expect(summary.published).toBe(1);
    expect(published.map((f) => f.deviceId)).toEqual(['a']);
  });

  it('publishes the other findings when one fails, then fails the sweep so that it is retried', async () => {
    const published: string[] = [];
    const sweep = sweepCertificates({
      index: indexOf([bound('a', days(-10), days(2)), bound('b', days(-10), days(3)), bound('c', days(-10), days(4))]),
      iot: statuses(),
      findings: {
        publish: async (f) => {
          if (f.deviceId === 'b') throw new Error('throttled');
          published.push(f.deviceId);
        },
      },
      policy: POLICY,
      now: () => NOW,
      log: silent,
    });
    await expect(sweep).rejects.toThrow(SweepIncompleteError);
    await expect(sweep).rejects.toThrow('1 of 3 findings not published');
    expect(published).toEqual(['a', 'c']);
  });
});

describe('readBoundCertificateFacts', () => {
  it('reads the validity window and the issuer DN, most specific attribute first', async () => {
    const ca = await createCa({ commonName: 'Fleet CA' });
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2028-01-02T03:04:05Z');
    const device = await issueCertificate(ca, { subject: { commonName: 'd1' }, notBefore, notAfter });
    const facts = readBoundCertificateFacts(device.certificatePem, false);
    expect(facts).toEqual({ notBefore, notAfter, issuer: expect.stringMatching(/^CN=Fleet CA(,|$)/), issuedByAwsIot: false });
  });

  it('refuses a PEM that is not a certificate', () => {
    expect(() => readBoundCertificateFacts('not a certificate', true)).toThrow(/cannot be parsed/);
  });
});

describe('loadExpirySweepConfig', () => {
  const env = { DEVICE_REGISTRY_TABLE: 'svc-dev-devices', DEVICE_TIMELINE_TABLE: 'svc-dev-device-timeline', FINDINGS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:svc-dev-findings', AWS_REGION: 'eu-west-1' };

  it('defaults to 30 days of warning and 365 days of age', () => {
    expect(loadExpirySweepConfig({ ...env, EXPIRY_WARNING_DAYS: '', CERTIFICATE_MAX_AGE_DAYS: '' })).toEqual({
      registryTable: 'svc-dev-devices',
      timelineTable: 'svc-dev-device-timeline',
      findingsTopicArn: env.FINDINGS_TOPIC_ARN,
      policy: { expiringWithinDays: 30, olderThanDays: 365 },
    });
  });

  it('takes the stage parameters', () => {
    expect(loadExpirySweepConfig({ ...env, EXPIRY_WARNING_DAYS: '7', CERTIFICATE_MAX_AGE_DAYS: '0' })).toMatchObject({
      policy: { expiringWithinDays: 7, olderThanDays: 0 },
    });
  });

  it.each([
    [{ FINDINGS_TOPIC_ARN: 'dummy' }, /FINDINGS_TOPIC_ARN: an SNS topic ARN/],
    [{ EXPIRY_WARNING_DAYS: '-1' }, /EXPIRY_WARNING_DAYS.*whole number of days/],
    [{ CERTIFICATE_MAX_AGE_DAYS: 'a year' }, /CERTIFICATE_MAX_AGE_DAYS.*whole number of days/],
  ])('refuses %j with the variable’s name', (bad, message) => {
    expect(() => loadExpirySweepConfig({ ...env, ...bad })).toThrow(message);
  });
});

describe('the expiry indexes', () => {
  it('are the ones the registry table defines, and the sweep role’s index ARN covers both', () => {
    const storage = require('../../resources/storage.cjs') as { EXPIRY_INDEXES: Record<string, string> };
    expect(storage.EXPIRY_INDEXES).toEqual(EXPIRY_INDEXES);
    const { Resources } = loadStack({ stage: 'test' }).resources;
    const indexes = (Resources.DeviceRegistryTable!.Properties.GlobalSecondaryIndexes as Array<{ IndexName: string; KeySchema: unknown }>).map((i) => [i.IndexName, i.KeySchema]);
    expect(indexes).toEqual([
      ['by-not-after', [{ AttributeName: 'expiryShard', KeyType: 'HASH' }, { AttributeName: 'notAfter', KeyType: 'RANGE' }]],
      ['by-not-before', [{ AttributeName: 'expiryShard', KeyType: 'HASH' }, { AttributeName: 'notBefore', KeyType: 'RANGE' }]],
      // The console's device list (issue 12), which the sweep's `by-not-*` grant does not reach.
      ['by-device-id', [{ AttributeName: 'listShard', KeyType: 'HASH' }, { AttributeName: 'deviceId', KeyType: 'RANGE' }]],
    ]);
    const role = JSON.stringify(Resources.ExpirySweepRole!.Properties);
    expect(role).toContain('${DeviceRegistryTable.Arn}/index/by-not-*');
    for (const name of Object.values(EXPIRY_INDEXES)) expect(name.startsWith('by-not-')).toBe(true);
  });

  it('spreads devices over every shard with a stable hash', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => expiryShardOf(`DEVICE-${i}`)));
    expect([...shards].sort()).toEqual(Array.from({ length: EXPIRY_SHARDS }, (_, i) => String(i)));
    expect(expiryShardOf('SENSOR-0001')).toBe(expiryShardOf('SENSOR-0001'));
  });
});
