import { ConfigurationError, loadActivationConfig, loadCertificateResourceConfig, loadRotationIssueConfig, loadVendingConfig } from '../../shared/config';

const base = {
  DEVICE_REGISTRY_TABLE: 'iot-provisioner-dev-devices',
  PROVISIONING_LEDGER_TABLE: 'iot-provisioner-dev-provisioning-ledger',
  DEVICE_POLICY_NAME: 'iot-provisioner-dev-device',
};

describe('loadActivationConfig', () => {
  it('applies the documented defaults, treating empty stage parameters as unset', () => {
    const config = loadActivationConfig({
      ...base,
      ALLOWED_CA_IDS: '',
      ADMISSION_MODE: '',
      DEVICE_ID_SOURCE: '',
      REJECT_ACTION: '',
      BOUND_DEVICE_POLICY: '',
      THING_GROUP: '',
      THING_TYPE: '',
    });
    expect(config).toEqual({
      registryTable: base.DEVICE_REGISTRY_TABLE,
      ledgerTable: base.PROVISIONING_LEDGER_TABLE,
      settings: {
        admission: { mode: 'allowlist', deviceIdSource: 'serialNumberOrCommonName', boundDevice: 'refuse' },
        devicePolicyName: base.DEVICE_POLICY_NAME,
        rejectAction: 'REVOKED',
        // JITR's stale-claim window is the hook's (issue 10).
        staleClaimMs: 120_000,
      },
    });
  });

  it('reads every setting', () => {
    const ids = ['A'.repeat(64), 'b'.repeat(64)];
    const config = loadActivationConfig({
      ...base,
      ALLOWED_CA_IDS: ` ${ids[0]}, ${ids[1]} `,
      ADMISSION_MODE: 'ca',
      DEVICE_ID_SOURCE: 'commonName',
      REJECT_ACTION: 'INACTIVE',
      BOUND_DEVICE_POLICY: 'replace',
      THING_GROUP: 'fleet',
      THING_TYPE: 'sensor',
    });
    expect(config.settings).toEqual({
      admission: { mode: 'ca', allowedCaIds: ['a'.repeat(64), 'b'.repeat(64)], deviceIdSource: 'commonName', boundDevice: 'replace' },
      devicePolicyName: base.DEVICE_POLICY_NAME,
      rejectAction: 'INACTIVE',
      staleClaimMs: 120_000,
      thingGroup: 'fleet',
      thingType: 'sensor',
    });
  });

  it.each([
    [{ DEVICE_POLICY_NAME: 'p' }, 'DEVICE_REGISTRY_TABLE'],
    [{ DEVICE_REGISTRY_TABLE: 'table' }, 'DEVICE_POLICY_NAME'],
    [{ ...base, ADMISSION_MODE: 'open' }, 'ADMISSION_MODE'],
    [{ ...base, REJECT_ACTION: 'DELETE' }, 'REJECT_ACTION'],
    [{ ...base, ALLOWED_CA_IDS: 'not-an-id' }, 'ALLOWED_CA_IDS'],
    [{ ...base, DEVICE_ID_SOURCE: 'mac' }, 'DEVICE_ID_SOURCE'],
  ])('fails at cold start naming the variable: %j', (env, variable) => {
    expect(() => loadActivationConfig(env)).toThrow(ConfigurationError);
    expect(() => loadActivationConfig(env)).toThrow(variable);
  });
});

describe('loadCertificateResourceConfig', () => {
  const bucket = 'iot-provisioner-dev-certificatebucket-1a2b3c4d5e6f';

  it('reads the bucket and uses virtual-hosted S3 addressing unless told otherwise', () => {
    expect(loadCertificateResourceConfig({ CERTIFICATE_BUCKET: bucket })).toEqual({ bucket, forcePathStyle: false });
    expect(loadCertificateResourceConfig({ CERTIFICATE_BUCKET: bucket, S3_FORCE_PATH_STYLE: '' })).toEqual({ bucket, forcePathStyle: false });
  });

  it('uses path-style addressing when S3_FORCE_PATH_STYLE is true (local S3-compatible servers)', () => {
    expect(loadCertificateResourceConfig({ CERTIFICATE_BUCKET: bucket, S3_FORCE_PATH_STYLE: 'true' }).forcePathStyle).toBe(true);
  });

  it.each([
    [{}, 'CERTIFICATE_BUCKET'],
    [{ CERTIFICATE_BUCKET: 'Not_A_Bucket' }, 'CERTIFICATE_BUCKET'],
    [{ CERTIFICATE_BUCKET: bucket, S3_FORCE_PATH_STYLE: 'yes' }, 'S3_FORCE_PATH_STYLE'],
  ])('fails at cold start naming the variable: %j', (env, variable) => {
    expect(() => loadCertificateResourceConfig(env)).toThrow(ConfigurationError);
    expect(() => loadCertificateResourceConfig(env)).toThrow(variable);
  });
});

describe('loadVendingConfig', () => {
  const vending = {
    ...base,
    PROVISIONING_LEDGER_TABLE: 'iot-provisioner-dev-provisioning-ledger',
    RETIREMENT_QUEUE_NAME: 'iot-provisioner-dev-retirements',
    ROLE_ALIAS: 'iot-provisioner-dev-device',
  };

  it('applies the defaults: allowlist, 300 s grace, Amazon Root CA 1', () => {
    expect(loadVendingConfig({ ...vending, RETIRE_GRACE_SECONDS: '', ADMISSION_MODE: '', THING_GROUP: '' })).toEqual({
      registryTable: base.DEVICE_REGISTRY_TABLE,
      ledgerTable: vending.PROVISIONING_LEDGER_TABLE,
      retirementQueueName: vending.RETIREMENT_QUEUE_NAME,
      settings: {
        devicePolicyName: base.DEVICE_POLICY_NAME,
        mode: 'allowlist',
        deviceIdSource: 'serialNumberOrCommonName',
        retireGraceSeconds: 300,
        roleAlias: vending.ROLE_ALIAS,
        rootCaUrl: 'https://www.amazontrust.com/repository/AmazonRootCA1.pem',
      },
    });
  });

  it.each([
    [{ RETIRE_GRACE_SECONDS: '901' }, /RETIRE_GRACE_SECONDS: at most 900/],
    [{ RETIRE_GRACE_SECONDS: 'soon' }, /RETIRE_GRACE_SECONDS/],
    [{ RETIREMENT_QUEUE_NAME: 'https://sqs.example/queue' }, /RETIREMENT_QUEUE_NAME/],
    [{ ROLE_ALIAS: undefined }, /ROLE_ALIAS/],
  ])('refuses %p naming the variable', (override, message) => {
    expect(() => loadVendingConfig({ ...vending, ...override })).toThrow(ConfigurationError);
    expect(() => loadVendingConfig({ ...vending, ...override })).toThrow(message);
  });
});

describe('loadRotationIssueConfig', () => {
  const base = { DEVICE_REGISTRY_TABLE: 'devices', DEVICE_TIMELINE_TABLE: 'timeline', DEVICE_POLICY_NAME: 'device' };

  it('reads the tables and the policy, and whether the iot-data endpoint comes from the SDK environment', () => {
    expect(loadRotationIssueConfig(base)).toEqual({ registryTable: 'devices', timelineTable: 'timeline', devicePolicyName: 'device', dataEndpointFromEnvironment: false });
    expect(loadRotationIssueConfig({ ...base, AWS_ENDPOINT_URL_IOT_DATA_PLANE: 'http://127.0.0.1:4000' }).dataEndpointFromEnvironment).toBe(true);
  });

  it('names the missing variable', () => {
    const { DEVICE_TIMELINE_TABLE: _omitted, ...rest } = base;
    expect(() => loadRotationIssueConfig(rest)).toThrow(/DEVICE_TIMELINE_TABLE/);
  });
});
