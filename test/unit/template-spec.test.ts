import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { loadStack } from '../../lib/stack';

/**
 * Every resource of the stack's template (as resources/stack.cjs builds it, Device Defender audit on), checked
 * against the CloudFormation resource specification (@aws-cdk/aws-service-spec): the type exists, every
 * property (nested ones included) is one the type defines, every required property is there, and a literal
 * value has the property's type. CloudFormation intrinsics (Ref, Fn::*) are not evaluated: any value goes.
 */

type SpecDb = ReturnType<typeof loadAwsServiceSpecSync>;
type PropertyType = { type: string; element?: PropertyType; reference?: { $ref: string }; types?: PropertyType[] };
type Properties = Record<string, { type: PropertyType; required?: boolean }>;

const isIntrinsic = (value: unknown) =>
  !!value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1 && /^(Ref|Fn::\w+)$/.test(Object.keys(value)[0]!);

function checkValue(db: SpecDb, value: unknown, type: PropertyType, path: string, problems: string[]): void {
  if (isIntrinsic(value)) return;
  const mismatch = (expected: string): void => void problems.push(`${path}: ${JSON.stringify(value)?.slice(0, 60)} is not ${expected}`);
  switch (type.type) {
    case 'string':
    case 'date-time':
      if (typeof value !== 'string') mismatch('a string');
      return;
    case 'boolean':
      if (typeof value !== 'boolean' && value !== 'true' && value !== 'false') mismatch('a boolean');
      return;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' && !(typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value))) mismatch('a number');
      return;
    case 'json':
      return;
    case 'array':
      if (!Array.isArray(value)) return mismatch('a list');
      value.forEach((item, i) => checkValue(db, item, type.element!, `${path}[${i}]`, problems));
      return;
    case 'map':
      if (!value || typeof value !== 'object') return mismatch('a map');
      for (const [key, item] of Object.entries(value)) checkValue(db, item, type.element!, `${path}.${key}`, problems);
      return;
    case 'tag':
      if (!value || typeof value !== 'object' || typeof (value as { Key?: unknown }).Key !== 'string') mismatch('a tag');
      return;
    case 'union': {
      const attempts = type.types!.map((t) => {
        const found: string[] = [];
        checkValue(db, value, t, path, found);
        return found;
      });
      if (!attempts.some((found) => found.length === 0)) problems.push(...attempts[0]!);
      return;
    }
    case 'ref': {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return mismatch('an object');
      const definition = db.get('typeDefinition', type.reference!.$ref) as unknown as { name: string; properties: Properties };
      checkProperties(db, value as Record<string, unknown>, definition.properties, path, problems);
      return;
    }
    default:
      problems.push(`${path}: the spec type ${type.type} is not checked here`);
  }
}

function checkProperties(db: SpecDb, value: Record<string, unknown>, properties: Properties, path: string, problems: string[]): void {
  for (const [name, item] of Object.entries(value)) {
    const property = properties[name];
    if (!property) problems.push(`${path}.${name}: not a property of the specification (${Object.keys(properties).sort().join(', ')})`);
    else checkValue(db, item, property.type, `${path}.${name}`, problems);
  }
  for (const [name, property] of Object.entries(properties)) {
    if (property.required && !(name in value)) problems.push(`${path}.${name}: required, missing`);
  }
}

export function specProblems(db: SpecDb, resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>): string[] {
  const problems: string[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const spec = db.lookup('resource', 'cloudFormationType', 'equals', resource.Type);
    if (spec.length !== 1) {
      problems.push(`${id}: ${resource.Type} is not a resource type of the specification`);
      continue;
    }
    checkProperties(db, resource.Properties ?? {}, spec[0]!.properties as unknown as Properties, id, problems);
  }
  return problems;
}

describe('the template against the CloudFormation resource specification', () => {
  let db: SpecDb;
  beforeAll(() => {
    db = loadAwsServiceSpecSync();
  }, 60_000);

  it('has only valid resources, with the audit on (the sweep topic, the audit configuration and its scheduled audit included) and the alarms mailed', () => {
    const { Resources } = loadStack({ stage: 'test', params: { deviceDefenderAudit: 'true', alarmEmail: 'ops@example.com' } }).resources;
    for (const id of ['FindingsTopic', 'AccountAuditConfiguration', 'CertificateScheduledAudit', 'DeviceDefenderAuditRole', 'DeviceDefenderNotificationRole', 'ExpirySweepRole']) {
      expect(Resources).toHaveProperty(id);
    }
    // Observability (resources/observability.cjs): each type it adds is in the check.
    for (const id of ['AlarmsTopic', 'AlarmsEmailSubscription', 'FailureQueueMessagesAlarm', 'ClaimRefusalsRule', 'ClaimAbuseAlarm', 'Dashboard']) {
      expect(Resources).toHaveProperty(id);
    }
    expect(specProblems(db, Resources)).toEqual([]);
  });

  it('enables the four certificate checks and audits them daily, with the sweep thresholds', () => {
    const { Resources } = loadStack({ stage: 'test', params: { deviceDefenderAudit: 'true', certificateMaxAgeDays: '400', expiryWarningDays: '14' } }).resources;
    const checks = Resources.AccountAuditConfiguration!.Properties.AuditCheckConfigurations as Record<string, { Enabled: boolean; Configuration?: unknown }>;
    expect(checks).toEqual({
      DeviceCertificateExpiringCheck: { Enabled: true, Configuration: { CertExpirationThresholdInDays: '14' } },
      DeviceCertificateAgeCheck: { Enabled: true, Configuration: { CertAgeThresholdInDays: '400' } },
      CaCertificateExpiringCheck: { Enabled: true },
      RevokedDeviceCertificateStillActiveCheck: { Enabled: true },
    });
    expect(Resources.CertificateScheduledAudit!.Properties).toMatchObject({
      Frequency: 'DAILY',
      TargetCheckNames: ['DEVICE_CERTIFICATE_EXPIRING_CHECK', 'DEVICE_CERTIFICATE_AGE_CHECK', 'CA_CERTIFICATE_EXPIRING_CHECK', 'REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK'],
    });
  });

  it('leaves the account-wide audit out by default, and refuses a parameter that is neither true nor false', () => {
    const { Resources } = loadStack({ stage: 'test' }).resources;
    expect(Object.values(Resources).filter((r) => r.Type.startsWith('AWS::IoT::AccountAudit') || r.Type === 'AWS::IoT::ScheduledAudit')).toEqual([]);
    expect(Resources).toHaveProperty('FindingsTopic');
    expect(() => loadStack({ stage: 'test', params: { deviceDefenderAudit: 'yes' } })).toThrow(/deviceDefenderAudit: "yes" is neither true nor false/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a property the type does not have', { Type: 'AWS::IoT::ScheduledAudit', Properties: { Frequency: 'DAILY', TargetCheckNames: [], Frequncy: 'DAILY' } }, /Frequncy: not a property/],
    ['a missing required property', { Type: 'AWS::IoT::ScheduledAudit', Properties: { TargetCheckNames: [] } }, /Frequency: required, missing/],
    ['a nested property of the wrong type', { Type: 'AWS::IoT::AccountAuditConfiguration', Properties: { AccountId: 'x', RoleArn: 'r', AuditCheckConfigurations: { DeviceCertificateAgeCheck: { Enabled: 'sometimes' } } } }, /DeviceCertificateAgeCheck\.Enabled: "sometimes" is not a boolean/],
    ['an unknown type', { Type: 'AWS::IoT::AuditEverything', Properties: {} }, /not a resource type/],
  ])('reports %s', (_, resource, problem) => {
    expect(specProblems(db, { R: resource as never }).join('\n')).toMatch(problem);
  });
});
