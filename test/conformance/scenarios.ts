import type { LocalIotCore } from '../../local/local-iot-core';
import { createCa, createCsr, issueCertificate, issueVerificationCertificate, type KeyedCertificate } from '../../lib/pki';
import type { WireResponse } from '../support/model-checker';
import { buildRequest, type ServiceModel } from '../support/service-model';

/**
 * One scenario per operation the local control plane serves: what to set up, the call as the model's input
 * names it, and one call that must fail with one of the operation's documented errors. The inputs are the
 * model's member names and JSON values; test/support/service-model.ts binds them to the wire. Each scenario
 * makes its own resources, so the order does not matter.
 */

export type Input = Record<string, unknown>;

export interface ErrorCase {
  call(fx: Fixtures): Promise<Input>;
  /** The error code: one of the operation's documented errors. */
  expect: string;
  /** When it happens, for the test's name (e.g. "the parent group does not exist"). */
  when?: string;
  /**
   * Where `expect` is not among the operation's documented errors: the evidence that AWS answers it all the
   * same (the model's lists are not exhaustive). Without it, an undocumented error fails the test.
   */
  undocumented?: string;
}

export interface Scenario {
  /** Sets up what the call needs and returns its input (checked against the input shape before it is sent). */
  call(fx: Fixtures): Promise<Input>;
  /** Other successful calls, each answering members the first one does not (e.g. a deprecated thing type). */
  variants?: Array<(fx: Fixtures) => Promise<Input>>;
  /** A call that fails, as the operation's documentation says it can. */
  error: ErrorCase;
  /** More failures, where AWS documents them. */
  errors?: ErrorCase[];
}

export const ACCOUNT_ID = '123456789012';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT_ID}:role/conformance-provisioning`;
const HOOK_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:conformance-hook`;
const POLICY_DOCUMENT = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] });
const JOB_DOCUMENT = JSON.stringify({ operation: 'rotate-certificate' });
/** One thing a minute, the rate rising with each success. */
const SUCCESS_PACED = { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 1.5, rateIncreaseCriteria: { numberOfSucceededThings: 1 } } };
const FLEET_TEMPLATE = JSON.stringify({
  Parameters: { SerialNumber: { Type: 'String' } },
  Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'SerialNumber' } } } },
});
/** A certificate id nobody registered (64 hex characters, as the model's CertificateId is). */
const UNKNOWN_CERTIFICATE_ID = 'f'.repeat(64);

/** Raw calls to the local control plane, bound as the model says, and the resources scenarios share. */
export class Fixtures {
  private counter = 0;

  constructor(
    readonly core: LocalIotCore,
    readonly model: ServiceModel,
    /** Moves the local IoT Core's clock forward (it was started with `now` reading this clock). */
    readonly advanceClock: (ms: number) => void,
  ) {}

  /** A name unique to this run, within every name pattern of the model ([a-zA-Z0-9_-]). */
  name(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${this.counter}`;
  }

  async call(operation: string, input: Input): Promise<WireResponse> {
    const request = buildRequest(this.model, operation, input);
    const response = await fetch(`${this.core.endpoints.iot}${request.url}`, {
      method: request.method,
      headers: {
        ...request.headers,
        // The account is the access key id of the signature (local/iot-core/control-plane.ts).
        authorization: `AWS4-HMAC-SHA256 Credential=${ACCOUNT_ID}/20261201/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=00`,
      },
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key] = value));
    return { status: response.status, headers, text: await response.text() };
  }

  /** A call that must succeed (setup): its JSON body. */
  async ok(operation: string, input: Input): Promise<Record<string, unknown>> {
    const response = await this.call(operation, input);
    if (response.status !== 200) throw new Error(`setup: ${operation} answered ${response.status} ${response.text}`);
    return response.text ? (JSON.parse(response.text) as Record<string, unknown>) : {};
  }

  /**
   * The next call of `operation` is throttled, as a burst over its TPS quota would be (the local IoT Core's
   * fault injection answers through the same path as its quotas, local/iot-core/traffic.ts).
   */
  async throttleNext(operation: string, input: Input): Promise<Input> {
    this.core.traffic.setFaults({ throttleRate: 1, operations: [operation] });
    return input;
  }

  /** No more injected faults, after a throttle scenario. */
  unthrottle(): void {
    this.core.traffic.setFaults({});
  }

  private caPromise: Promise<{ ca: KeyedCertificate; certificateId: string }> | undefined;

  /** One DEFAULT-mode CA, ACTIVE, auto-registration on, with a JITP registration config. */
  ca(): Promise<{ ca: KeyedCertificate; certificateId: string }> {
    this.caPromise ??= (async () => {
      const ca = await createCa({ commonName: 'Conformance CA' });
      const { registrationCode } = await this.ok('GetRegistrationCode', {});
      const verification = await issueVerificationCertificate(ca, registrationCode as string);
      const { certificateId } = await this.ok('RegisterCACertificate', {
        caCertificate: ca.certificatePem,
        verificationCertificate: verification.certificatePem,
        setAsActive: true,
        allowAutoRegistration: true,
        registrationConfig: { templateBody: FLEET_TEMPLATE, roleArn: ROLE_ARN },
      });
      return { ca, certificateId: certificateId as string };
    })();
    return this.caPromise;
  }

  /** Another CA, registered SNI_ONLY (no verification certificate), INACTIVE. */
  async sniOnlyCa(): Promise<string> {
    const ca = await createCa({ commonName: this.name('ca') });
    const { certificateId } = await this.ok('RegisterCACertificate', { caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY' });
    return certificateId as string;
  }

  /** A certificate AWS IoT made (CreateKeysAndCertificate), ACTIVE. */
  async certificate(): Promise<{ certificateId: string; certificateArn: string }> {
    const { certificateId, certificateArn } = await this.ok('CreateKeysAndCertificate', { setAsActive: true });
    return { certificateId: certificateId as string, certificateArn: certificateArn as string };
  }

  /** A device certificate signed by the CA, registered with it. */
  async registeredCertificate(status = 'ACTIVE'): Promise<{ certificateId: string; certificateArn: string; certificatePem: string }> {
    const { ca } = await this.ca();
    const device = await issueCertificate(ca, { subject: { serialNumber: this.name('device') } });
    const { certificateId, certificateArn } = await this.ok('RegisterCertificate', {
      certificatePem: device.certificatePem,
      caCertificatePem: ca.certificatePem,
      status,
    });
    return { certificateId: certificateId as string, certificateArn: certificateArn as string, certificatePem: device.certificatePem };
  }

  /** The job configurations every job and template here carries, so that their descriptions answer every member. */
  static readonly JOB_CONFIGURATION = {
    description: 'A conformance job',
    jobExecutionsRolloutConfig: { maximumPerMinute: 100, exponentialRate: { baseRatePerMinute: 10, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 5 } } },
    abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 10 }] },
    timeoutConfig: { inProgressTimeoutInMinutes: 60 },
  };

  async jobTemplate(): Promise<{ jobTemplateId: string; jobTemplateArn: string }> {
    const jobTemplateId = this.name('jobtemplate');
    const { jobTemplateArn } = await this.ok('CreateJobTemplate', { jobTemplateId, document: JOB_DOCUMENT, ...Fixtures.JOB_CONFIGURATION });
    return { jobTemplateId, jobTemplateArn: jobTemplateArn as string };
  }

  /**
   * A job from a template for a thing and a group of one thing; with `started`, the thing's execution is
   * IN_PROGRESS (as its device's start-next leaves it), so that startedAt and the timer are answered.
   */
  async job(options: { started?: boolean } = {}): Promise<{ jobId: string; jobArn: string; thingName: string }> {
    const jobId = this.name('job');
    const { thingName, thingArn } = await this.thing();
    const { thingName: member, thingGroupName } = await this.thingInGroup();
    const { thingGroupArn } = await this.ok('DescribeThingGroup', { thingGroupName });
    const { jobArn } = await this.ok('CreateJob', { jobId, targets: [thingArn, thingGroupArn], jobTemplateArn: (await this.jobTemplate()).jobTemplateArn, description: 'A conformance job' });
    if (options.started) this.core.registry.account(ACCOUNT_ID).jobs.startNext(thingName, { statusDetails: { step: 'download' } });
    void member;
    return { jobId, jobArn: jobArn as string, thingName };
  }

  async thingType(): Promise<string> {
    const thingTypeName = this.name('type');
    await this.ok('CreateThingType', {
      thingTypeName,
      thingTypeProperties: { thingTypeDescription: 'A conformance device', searchableAttributes: ['serial'] },
    });
    return thingTypeName;
  }

  /** A thing with a type and attributes, so that every member of its descriptions is answered. */
  async thing(): Promise<{ thingName: string; thingArn: string }> {
    const thingName = this.name('thing');
    const { thingArn } = await this.ok('CreateThing', {
      thingName,
      thingTypeName: await this.thingType(),
      attributePayload: { attributes: { serial: thingName, color: 'red' } },
    });
    return { thingName, thingArn: thingArn as string };
  }

  async thingGroup(parentGroupName?: string): Promise<string> {
    const thingGroupName = this.name('group');
    await this.ok('CreateThingGroup', {
      thingGroupName,
      ...(parentGroupName ? { parentGroupName } : {}),
      thingGroupProperties: { thingGroupDescription: 'Conformance devices', attributePayload: { attributes: { site: 'lab' } } },
    });
    return thingGroupName;
  }

  async thingGroupArn(): Promise<string> {
    const { thingGroupArn } = await this.ok('DescribeThingGroup', { thingGroupName: await this.thingGroup() });
    return thingGroupArn as string;
  }

  async thingInGroup(): Promise<{ thingName: string; thingGroupName: string }> {
    const { thingName } = await this.thing();
    const thingGroupName = await this.thingGroup();
    await this.ok('AddThingToThingGroup', { thingGroupName, thingName });
    return { thingName, thingGroupName };
  }

  async policy(): Promise<string> {
    const policyName = this.name('policy');
    await this.ok('CreatePolicy', { policyName, policyDocument: POLICY_DOCUMENT });
    return policyName;
  }

  async template(): Promise<string> {
    const templateName = this.name('template');
    await this.ok('CreateProvisioningTemplate', {
      templateName,
      description: 'Conformance fleet template',
      templateBody: FLEET_TEMPLATE,
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
      preProvisioningHook: { targetArn: HOOK_ARN, payloadVersion: '2020-04-01' },
      type: 'FLEET_PROVISIONING',
    });
    return templateName;
  }

  /** A topic rule deployed into the account, as the stack's rules are (GetTopicRule and ListTopicRules read them). */
  topicRule(): string {
    const ruleName = this.name('rule').replace('-', '_');
    this.core.addRule({
      ruleName,
      sql: "SELECT * FROM '$aws/events/certificates/registered/+'",
      description: 'Conformance rule',
      awsIotSqlVersion: '2016-03-23',
      actions: [{ lambda: { functionArn: HOOK_ARN } }],
      errorAction: { lambda: { functionArn: HOOK_ARN } },
    });
    return ruleName;
  }

  async roleAlias(): Promise<string> {
    const roleAlias = this.name('alias');
    await this.ok('CreateRoleAlias', { roleAlias, roleArn: ROLE_ARN, credentialDurationSeconds: 3600 });
    return roleAlias;
  }
}

/** A list call: make its items first (so that its element shape is answered), then list them. */
const listing =
  (input: Input, ...makers: Array<(fx: Fixtures) => unknown>) =>
  async (fx: Fixtures): Promise<Input> => {
    for (const make of makers) await make(fx);
    return input;
  };
const notFound = (call: ErrorCase['call'], when?: string): ErrorCase => ({ call, expect: 'ResourceNotFoundException', ...(when ? { when } : {}) });
const throttled = (operation: string, input: Input = {}): ErrorCase => ({
  call: (fx: Fixtures) => fx.throttleNext(operation, input),
  expect: 'ThrottlingException',
});

export const scenarios: Record<string, Scenario> = {
  // ---- certificates AWS IoT makes ----
  CreateKeysAndCertificate: {
    call: async () => ({ setAsActive: true }),
    error: throttled('CreateKeysAndCertificate'),
  },
  CreateCertificateFromCsr: {
    call: async () => ({ certificateSigningRequest: (await createCsr({ commonName: 'conformance' })).csrPem, setAsActive: true }),
    error: { call: async () => ({ certificateSigningRequest: 'not a CSR' }), expect: 'InvalidRequestException' },
  },

  // ---- provisioning templates and claims ----
  CreateProvisioningTemplate: {
    call: async (fx) => ({
      templateName: fx.name('template'),
      description: 'Conformance fleet template',
      templateBody: FLEET_TEMPLATE,
      enabled: true,
      provisioningRoleArn: ROLE_ARN,
      preProvisioningHook: { targetArn: HOOK_ARN },
    }),
    error: {
      call: async (fx) => ({ templateName: await fx.template(), templateBody: FLEET_TEMPLATE, provisioningRoleArn: ROLE_ARN }),
      expect: 'ResourceAlreadyExistsException',
    },
    variants: [async (fx) => ({ templateName: fx.name('template'), templateBody: FLEET_TEMPLATE, provisioningRoleArn: ROLE_ARN, type: 'JITP' })],
    errors: [
      {
        when: 'a JITP template has a pre-provisioning hook',
        call: async (fx) => ({ templateName: fx.name('template'), templateBody: FLEET_TEMPLATE, provisioningRoleArn: ROLE_ARN, type: 'JITP', preProvisioningHook: { targetArn: HOOK_ARN } }),
        expect: 'InvalidRequestException',
      },
    ],
  },
  ListProvisioningTemplates: {
    call: listing({ maxResults: 1 }, (fx) => fx.template(), (fx) => fx.template()),
    error: { call: async () => ({ maxResults: 0 }), expect: 'InvalidRequestException' },
  },
  DescribeProvisioningTemplate: {
    call: async (fx) => ({ templateName: await fx.template() }),
    error: notFound(async () => ({ templateName: 'no-such-template' })),
    variants: [
      async (fx) => {
        const templateName = fx.name('template');
        await fx.ok('CreateProvisioningTemplate', { templateName, templateBody: FLEET_TEMPLATE, provisioningRoleArn: ROLE_ARN, type: 'JITP' });
        return { templateName };
      },
    ],
  },
  UpdateProvisioningTemplate: {
    call: async (fx) => ({ templateName: await fx.template(), description: 'changed', enabled: false, removePreProvisioningHook: true }),
    error: notFound(async () => ({ templateName: 'no-such-template', enabled: true })),
  },
  DeleteProvisioningTemplate: {
    call: async (fx) => ({ templateName: await fx.template() }),
    error: notFound(async () => ({ templateName: 'no-such-template' })),
  },
  CreateProvisioningClaim: {
    call: async (fx) => ({ templateName: await fx.template() }),
    error: notFound(async () => ({ templateName: 'no-such-template' })),
  },

  // ---- CA certificates ----
  GetRegistrationCode: {
    call: async () => ({}),
    error: throttled('GetRegistrationCode'),
  },
  DeleteRegistrationCode: {
    call: listing({}, (fx) => fx.ok('GetRegistrationCode', {})),
    error: throttled('DeleteRegistrationCode'),
  },
  RegisterCACertificate: {
    call: async (fx) => {
      const ca = await createCa({ commonName: fx.name('ca') });
      return { caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true };
    },
    error: {
      call: async (fx) => {
        const ca = await createCa({ commonName: fx.name('ca') });
        const verification = await issueVerificationCertificate(ca, 'f'.repeat(64));
        return { caCertificate: ca.certificatePem, verificationCertificate: verification.certificatePem };
      },
      expect: 'RegistrationCodeValidationException',
    },
    errors: [
      {
        when: 'the CA is registered already',
        call: async (fx) => {
          const ca = await createCa({ commonName: fx.name('ca') });
          await fx.ok('RegisterCACertificate', { caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY' });
          return { caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY' };
        },
        expect: 'ResourceAlreadyExistsException',
      },
      {
        when: 'an SNI_ONLY CA comes with a verification certificate',
        call: async (fx) => {
          const ca = await createCa({ commonName: fx.name('ca') });
          const verification = await issueVerificationCertificate(ca, 'f'.repeat(64));
          return { caCertificate: ca.certificatePem, verificationCertificate: verification.certificatePem, certificateMode: 'SNI_ONLY' };
        },
        expect: 'InvalidRequestException',
      },
    ],
  },
  ListCACertificates: {
    call: listing({ pageSize: 10 }, (fx) => fx.ca()),
    error: throttled('ListCACertificates'),
  },
  DescribeCACertificate: {
    call: async (fx) => ({ certificateId: (await fx.ca()).certificateId }),
    error: notFound(async () => ({ certificateId: UNKNOWN_CERTIFICATE_ID })),
    variants: [
      async (fx) => ({ certificateId: await fx.sniOnlyCa() }),
      async (fx) => {
        // JITP by template name (registrationConfig.templateName).
        const ca = await createCa({ commonName: fx.name('ca') });
        const { certificateId } = await fx.ok('RegisterCACertificate', {
          caCertificate: ca.certificatePem,
          certificateMode: 'SNI_ONLY',
          registrationConfig: { templateName: await fx.template(), roleArn: ROLE_ARN },
        });
        return { certificateId };
      },
    ],
  },
  UpdateCACertificate: {
    call: async (fx) => ({ certificateId: (await fx.ca()).certificateId, newStatus: 'ACTIVE', newAutoRegistrationStatus: 'ENABLE' }),
    error: notFound(async () => ({ certificateId: UNKNOWN_CERTIFICATE_ID, newStatus: 'ACTIVE' })),
    errors: [
      { when: 'the new status is not a CA status', call: async (fx) => ({ certificateId: (await fx.ca()).certificateId, newStatus: 'REVOKED' }), expect: 'InvalidRequestException' },
    ],
  },
  DeleteCACertificate: {
    call: async (fx) => ({ certificateId: await fx.sniOnlyCa() }),
    // An ACTIVE CA cannot be deleted (aws-iot-reference §4).
    error: { call: async (fx) => ({ certificateId: (await fx.ca()).certificateId }), expect: 'CertificateStateException' },
  },

  // ---- device certificates ----
  RegisterCertificate: {
    call: async (fx) => {
      const { ca } = await fx.ca();
      const device = await issueCertificate(ca, { subject: { serialNumber: fx.name('device') } });
      return { certificatePem: device.certificatePem, caCertificatePem: ca.certificatePem, setAsActive: true };
    },
    error: {
      call: async (fx) => {
        const { ca } = await fx.ca();
        return { certificatePem: (await fx.registeredCertificate()).certificatePem, caCertificatePem: ca.certificatePem };
      },
      expect: 'ResourceAlreadyExistsException',
    },
    errors: [
      {
        when: 'its CA is not registered',
        call: async (fx) => {
          const issuer = await createCa({ commonName: fx.name('unregistered-ca') });
          const device = await issueCertificate(issuer, { subject: { serialNumber: fx.name('device') } });
          return { certificatePem: device.certificatePem, caCertificatePem: issuer.certificatePem };
        },
        expect: 'CertificateValidationException',
      },
    ],
  },
  RegisterCertificateWithoutCA: {
    call: async (fx) => {
      const issuer = await createCa({ commonName: fx.name('unregistered-ca') });
      const device = await issueCertificate(issuer, { subject: { serialNumber: fx.name('device') } });
      return { certificatePem: device.certificatePem, status: 'ACTIVE' };
    },
    error: {
      call: async (fx) => {
        const issuer = await createCa({ commonName: fx.name('unregistered-ca') });
        const device = await issueCertificate(issuer, { subject: { serialNumber: fx.name('device') } });
        await fx.ok('RegisterCertificateWithoutCA', { certificatePem: device.certificatePem, status: 'ACTIVE' });
        return { certificatePem: device.certificatePem, status: 'ACTIVE' };
      },
      expect: 'ResourceAlreadyExistsException',
    },
  },
  ListCertificates: {
    call: listing({ pageSize: 10 }, (fx) => fx.certificate(), (fx) => fx.registeredCertificate()),
    error: throttled('ListCertificates'),
  },
  DescribeCertificate: {
    call: async (fx) => ({ certificateId: (await fx.registeredCertificate()).certificateId }),
    error: notFound(async () => ({ certificateId: UNKNOWN_CERTIFICATE_ID })),
    variants: [
      async (fx) => ({ certificateId: (await fx.certificate()).certificateId }),
      async (fx) => {
        const issuer = await createCa({ commonName: fx.name('unregistered-ca') });
        const device = await issueCertificate(issuer, { subject: { serialNumber: fx.name('device') } });
        const { certificateId } = await fx.ok('RegisterCertificateWithoutCA', { certificatePem: device.certificatePem });
        return { certificateId };
      },
    ],
  },
  UpdateCertificate: {
    call: async (fx) => ({ certificateId: (await fx.certificate()).certificateId, newStatus: 'INACTIVE' }),
    error: notFound(async () => ({ certificateId: UNKNOWN_CERTIFICATE_ID, newStatus: 'ACTIVE' })),
    errors: [
      {
        when: 'a revoked certificate is activated',
        call: async (fx) => {
          const { certificateId } = await fx.certificate();
          await fx.ok('UpdateCertificate', { certificateId, newStatus: 'REVOKED' });
          return { certificateId, newStatus: 'ACTIVE' };
        },
        expect: 'CertificateStateException',
      },
    ],
  },
  DeleteCertificate: {
    call: async (fx) => {
      const { certificateId } = await fx.certificate();
      await fx.ok('UpdateCertificate', { certificateId, newStatus: 'INACTIVE' });
      return { certificateId };
    },
    // An ACTIVE certificate cannot be deleted (aws-iot-reference §4).
    error: { call: async (fx) => ({ certificateId: (await fx.certificate()).certificateId }), expect: 'CertificateStateException' },
    errors: [
      {
        when: 'it is still attached to a thing',
        call: async (fx) => {
          const { certificateId, certificateArn } = await fx.certificate();
          await fx.ok('AttachThingPrincipal', { thingName: (await fx.thing()).thingName, principal: certificateArn });
          await fx.ok('UpdateCertificate', { certificateId, newStatus: 'INACTIVE' });
          return { certificateId };
        },
        expect: 'DeleteConflictException',
      },
      notFound(async () => ({ certificateId: UNKNOWN_CERTIFICATE_ID }), 'it does not exist'),
    ],
  },

  // ---- things, types, groups ----
  ListThings: {
    call: listing({ maxResults: 10 }, (fx) => fx.thing(), (fx) => fx.thing()),
    error: { call: async () => ({ maxResults: 0 }), expect: 'InvalidRequestException' },
  },
  CreateThing: {
    call: async (fx) => ({ thingName: fx.name('thing'), attributePayload: { attributes: { serial: '1' } } }),
    error: {
      // The same name with other attributes (aws-iot-reference §4: CreateThing is idempotent for the same input only).
      call: async (fx) => ({ thingName: (await fx.thing()).thingName, attributePayload: { attributes: { serial: 'other' } } }),
      expect: 'ResourceAlreadyExistsException',
    },
    variants: [async (fx) => ({ thingName: fx.name('thing'), thingTypeName: await fx.thingType() })],
    errors: [notFound(async (fx) => ({ thingName: fx.name('thing'), thingTypeName: 'no-such-type' }), 'its thing type does not exist')],
  },
  DescribeThing: {
    call: async (fx) => ({ thingName: (await fx.thing()).thingName }),
    error: notFound(async () => ({ thingName: 'no-such-thing' })),
    variants: [
      async (fx) => {
        const thingName = fx.name('thing');
        await fx.ok('CreateThing', { thingName });
        return { thingName };
      },
    ],
  },
  UpdateThing: {
    call: async (fx) => ({ thingName: (await fx.thing()).thingName, attributePayload: { attributes: { color: 'blue' }, merge: true }, expectedVersion: 1 }),
    error: { call: async (fx) => ({ thingName: (await fx.thing()).thingName, expectedVersion: 7 }), expect: 'VersionConflictException' },
    errors: [notFound(async () => ({ thingName: 'no-such-thing', attributePayload: { attributes: { color: 'blue' } } }), 'the thing does not exist')],
  },
  DeleteThing: {
    call: async (fx) => ({ thingName: (await fx.thing()).thingName }),
    error: { call: async (fx) => ({ thingName: (await fx.thing()).thingName, expectedVersion: 7 }), expect: 'VersionConflictException' },
    errors: [
      {
        when: 'a principal is still attached',
        call: async (fx) => {
          const { thingName } = await fx.thing();
          await fx.ok('AttachThingPrincipal', { thingName, principal: (await fx.certificate()).certificateArn });
          return { thingName };
        },
        expect: 'InvalidRequestException',
      },
    ],
  },
  AttachThingPrincipal: {
    call: async (fx) => ({ thingName: (await fx.thing()).thingName, principal: (await fx.certificate()).certificateArn }),
    error: notFound(async (fx) => ({ thingName: 'no-such-thing', principal: (await fx.certificate()).certificateArn })),
  },
  DetachThingPrincipal: {
    call: async (fx) => {
      const { thingName } = await fx.thing();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachThingPrincipal', { thingName, principal: certificateArn });
      return { thingName, principal: certificateArn };
    },
    error: notFound(async (fx) => ({ thingName: 'no-such-thing', principal: (await fx.certificate()).certificateArn })),
  },
  ListThingPrincipals: {
    call: async (fx) => {
      const { thingName } = await fx.thing();
      await fx.ok('AttachThingPrincipal', { thingName, principal: (await fx.certificate()).certificateArn });
      return { thingName };
    },
    error: notFound(async () => ({ thingName: 'no-such-thing' })),
  },
  ListThingGroupsForThing: {
    call: async (fx) => ({ thingName: (await fx.thingInGroup()).thingName }),
    error: notFound(async () => ({ thingName: 'no-such-thing' })),
  },
  ListPrincipalThings: {
    call: async (fx) => {
      const { thingName } = await fx.thing();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachThingPrincipal', { thingName, principal: certificateArn });
      return { principal: certificateArn };
    },
    error: notFound(async () => ({ principal: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:cert/${UNKNOWN_CERTIFICATE_ID}` })),
  },
  CreateThingType: {
    call: async (fx) => ({ thingTypeName: fx.name('type'), thingTypeProperties: { thingTypeDescription: 'A device', searchableAttributes: ['serial'] } }),
    error: { call: async () => ({ thingTypeName: 'not a name!' }), expect: 'InvalidRequestException' },
    errors: [
      {
        when: 'the name is taken with other properties',
        call: async (fx) => ({ thingTypeName: await fx.thingType(), thingTypeProperties: { thingTypeDescription: 'Something else' } }),
        expect: 'ResourceAlreadyExistsException',
      },
    ],
  },
  DescribeThingType: {
    call: async (fx) => ({ thingTypeName: await fx.thingType() }),
    error: notFound(async () => ({ thingTypeName: 'no-such-type' })),
    variants: [
      async (fx) => {
        const thingTypeName = await fx.thingType();
        await fx.ok('DeprecateThingType', { thingTypeName });
        return { thingTypeName };
      },
      async (fx) => {
        const thingTypeName = fx.name('type');
        await fx.ok('CreateThingType', { thingTypeName });
        return { thingTypeName };
      },
    ],
  },
  AddThingToThingGroup: {
    call: async (fx) => ({ thingGroupName: await fx.thingGroup(), thingName: (await fx.thing()).thingName }),
    error: notFound(async (fx) => ({ thingGroupName: 'no-such-group', thingName: (await fx.thing()).thingName })),
    errors: [notFound(async (fx) => ({ thingGroupName: await fx.thingGroup(), thingName: 'no-such-thing' }), 'the thing does not exist')],
  },
  RemoveThingFromThingGroup: {
    call: async (fx) => fx.thingInGroup(),
    error: notFound(async (fx) => ({ thingGroupName: 'no-such-group', thingName: (await fx.thing()).thingName })),
  },
  ListThingsInThingGroup: {
    call: async (fx) => ({ thingGroupName: (await fx.thingInGroup()).thingGroupName }),
    error: notFound(async () => ({ thingGroupName: 'no-such-group' })),
  },
  CreateThingGroup: {
    call: async (fx) => ({
      thingGroupName: fx.name('group'),
      parentGroupName: await fx.thingGroup(),
      thingGroupProperties: { thingGroupDescription: 'A child group', attributePayload: { attributes: { site: 'lab' } } },
    }),
    error: {
      call: async (fx) => ({ thingGroupName: await fx.thingGroup(), thingGroupProperties: { thingGroupDescription: 'Something else' } }),
      expect: 'ResourceAlreadyExistsException',
    },
    errors: [
      {
        when: 'the parent group does not exist',
        call: async (fx) => ({ thingGroupName: fx.name('group'), parentGroupName: 'no-such-group' }),
        expect: 'ResourceNotFoundException',
        undocumented:
          'CreateThingGroup documents no ResourceNotFoundException; ministackorg/ministack#1638 reports that the service answers ' +
          'a missing parent with it. Not verified against AWS: an assumption.',
      },
    ],
  },
  DescribeThingGroup: {
    call: async (fx) => ({ thingGroupName: await fx.thingGroup(await fx.thingGroup()) }),
    error: notFound(async () => ({ thingGroupName: 'no-such-group' })),
    variants: [
      async (fx) => {
        const thingGroupName = fx.name('group');
        await fx.ok('CreateThingGroup', { thingGroupName });
        return { thingGroupName };
      },
    ],
  },

  // ---- IoT policies ----
  CreatePolicy: {
    call: async (fx) => ({ policyName: fx.name('policy'), policyDocument: POLICY_DOCUMENT }),
    error: { call: async (fx) => ({ policyName: fx.name('policy'), policyDocument: '{"Statement": "nope"' }), expect: 'MalformedPolicyException' },
    errors: [
      { when: 'the name is taken', call: async (fx) => ({ policyName: await fx.policy(), policyDocument: POLICY_DOCUMENT }), expect: 'ResourceAlreadyExistsException' },
    ],
  },
  GetPolicy: {
    call: async (fx) => ({ policyName: await fx.policy() }),
    error: notFound(async () => ({ policyName: 'no-such-policy' })),
  },
  DeletePolicy: {
    call: async (fx) => ({ policyName: await fx.policy() }),
    error: notFound(async () => ({ policyName: 'no-such-policy' })),
    errors: [
      {
        when: 'it is attached to a certificate',
        call: async (fx) => {
          const policyName = await fx.policy();
          await fx.ok('AttachPolicy', { policyName, target: (await fx.certificate()).certificateArn });
          return { policyName };
        },
        expect: 'DeleteConflictException',
      },
      {
        when: 'it has versions besides the default',
        call: async (fx) => {
          const policyName = await fx.policy();
          await fx.ok('CreatePolicyVersion', { policyName, policyDocument: POLICY_DOCUMENT });
          return { policyName };
        },
        expect: 'DeleteConflictException',
      },
    ],
  },
  AttachPolicy: {
    call: async (fx) => ({ policyName: await fx.policy(), target: (await fx.certificate()).certificateArn }),
    error: notFound(async (fx) => ({ policyName: 'no-such-policy', target: (await fx.certificate()).certificateArn })),
    errors: [
      { when: 'the target is not a principal', call: async (fx) => ({ policyName: await fx.policy(), target: 'not-a-principal' }), expect: 'InvalidRequestException' },
      notFound(async (fx) => ({ policyName: await fx.policy(), target: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:cert/${UNKNOWN_CERTIFICATE_ID}` }), 'the certificate does not exist'),
    ],
  },
  AttachPrincipalPolicy: {
    call: async (fx) => ({ policyName: await fx.policy(), principal: (await fx.certificate()).certificateArn }),
    error: notFound(async (fx) => ({ policyName: 'no-such-policy', principal: (await fx.certificate()).certificateArn })),
  },
  DetachPolicy: {
    call: async (fx) => {
      const policyName = await fx.policy();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachPolicy', { policyName, target: certificateArn });
      return { policyName, target: certificateArn };
    },
    error: throttled('DetachPolicy', { policyName: 'no-such-policy', target: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:cert/${UNKNOWN_CERTIFICATE_ID}` }),
  },
  ListAttachedPolicies: {
    call: async (fx) => {
      const policyName = await fx.policy();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachPolicy', { policyName, target: certificateArn });
      return { target: certificateArn };
    },
    error: { call: async (fx) => ({ target: (await fx.certificate()).certificateArn, pageSize: 0 }), expect: 'InvalidRequestException' },
  },

  // ---- role aliases ----
  CreateRoleAlias: {
    call: async (fx) => ({ roleAlias: fx.name('alias'), roleArn: ROLE_ARN, credentialDurationSeconds: 900 }),
    error: { call: async (fx) => ({ roleAlias: await fx.roleAlias(), roleArn: ROLE_ARN }), expect: 'ResourceAlreadyExistsException' },
    errors: [
      {
        when: 'the credential duration is below 900 seconds',
        call: async (fx) => ({ roleAlias: fx.name('alias'), roleArn: ROLE_ARN, credentialDurationSeconds: 60 }),
        expect: 'InvalidRequestException',
      },
    ],
  },
  ListRoleAliases: {
    call: listing({ pageSize: 10 }, (fx) => fx.roleAlias()),
    error: throttled('ListRoleAliases'),
  },
  DescribeRoleAlias: {
    call: async (fx) => ({ roleAlias: await fx.roleAlias() }),
    error: notFound(async () => ({ roleAlias: 'no-such-alias' })),
  },
  UpdateRoleAlias: {
    call: async (fx) => ({ roleAlias: await fx.roleAlias(), credentialDurationSeconds: 1800 }),
    error: notFound(async () => ({ roleAlias: 'no-such-alias', credentialDurationSeconds: 1800 })),
  },
  DeleteRoleAlias: {
    call: async (fx) => ({ roleAlias: await fx.roleAlias() }),
    error: notFound(async () => ({ roleAlias: 'no-such-alias' })),
  },

  // ---- AWS IoT Jobs ----
  CreateJobTemplate: {
    call: async (fx) => ({ jobTemplateId: fx.name('jobtemplate'), document: JOB_DOCUMENT, ...Fixtures.JOB_CONFIGURATION, tags: [{ Key: 'purpose', Value: 'rotation' }] }),
    variants: [async (fx) => ({ jobTemplateId: fx.name('jobtemplate'), jobArn: (await fx.job()).jobArn, description: 'From a job' })],
    error: { when: 'the id is taken', call: async (fx) => ({ jobTemplateId: (await fx.jobTemplate()).jobTemplateId, document: JOB_DOCUMENT, description: 'again' }), expect: 'ConflictException' },
    errors: [{ when: 'there is no document', call: async (fx) => ({ jobTemplateId: fx.name('jobtemplate'), description: 'No document' }), expect: 'InvalidRequestException' }],
  },
  DescribeJobTemplate: {
    call: async (fx) => ({ jobTemplateId: (await fx.jobTemplate()).jobTemplateId }),
    variants: [
      async (fx) => {
        const jobTemplateId = fx.name('jobtemplate');
        await fx.ok('CreateJobTemplate', { jobTemplateId, documentSource: 'https://s3.amazonaws.com/conformance/job.json', description: 'From S3', jobExecutionsRolloutConfig: SUCCESS_PACED });
        return { jobTemplateId };
      },
    ],
    error: notFound(async () => ({ jobTemplateId: 'no-such-template' })),
  },
  ListJobTemplates: {
    call: async (fx) => {
      await fx.jobTemplate();
      return {};
    },
    error: { when: 'the token is not one it gave', call: async () => ({ nextToken: 'bm90LWEtdG9rZW4=' }), expect: 'InvalidRequestException' },
  },
  DeleteJobTemplate: {
    call: async (fx) => ({ jobTemplateId: (await fx.jobTemplate()).jobTemplateId }),
    error: notFound(async () => ({ jobTemplateId: 'no-such-template' })),
  },
  CreateJob: {
    call: async (fx) => ({ jobId: fx.name('job'), targets: [(await fx.thing()).thingArn], document: JOB_DOCUMENT, targetSelection: 'SNAPSHOT', ...Fixtures.JOB_CONFIGURATION, tags: [{ Key: 'purpose', Value: 'rotation' }] }),
    error: notFound(async () => ({ jobId: 'no-such-target', targets: [`arn:aws:iot:us-east-1:${ACCOUNT_ID}:thing/no-such-thing`], document: JOB_DOCUMENT }), 'a target thing does not exist'),
    errors: [
      { when: 'the job id is taken', call: async (fx) => ({ jobId: (await fx.job()).jobId, targets: [(await fx.thing()).thingArn], document: JOB_DOCUMENT }), expect: 'ResourceAlreadyExistsException' },
      { when: 'there is no document', call: async (fx) => ({ jobId: fx.name('job'), targets: [(await fx.thing()).thingArn] }), expect: 'InvalidRequestException' },
    ],
  },
  DescribeJob: {
    call: async (fx) => ({ jobId: (await fx.job({ started: true })).jobId }),
    variants: [
      // Canceled: reasonCode, comment, completedAt and forceCanceled.
      async (fx) => {
        const { jobId } = await fx.job({ started: true });
        await fx.ok('CancelJob', { jobId, force: true, reasonCode: 'ROTATION_STOPPED', comment: 'Stopped by the operator' });
        return { jobId };
      },
      // From an S3 document: documentSource.
      async (fx) => {
        const jobId = fx.name('job');
        await fx.ok('CreateJob', { jobId, targets: [(await fx.thing()).thingArn], documentSource: 'https://s3.amazonaws.com/conformance/job.json' });
        return { jobId };
      },
      // Rolling out: processingTargets (one thing a minute, two targets).
      async (fx) => {
        const jobId = fx.name('job');
        await fx.ok('CreateJob', { jobId, targets: [(await fx.thing()).thingArn, (await fx.thing()).thingArn], document: JOB_DOCUMENT, jobExecutionsRolloutConfig: SUCCESS_PACED });
        return { jobId };
      },
    ],
    error: notFound(async () => ({ jobId: 'no-such-job' })),
  },
  ListJobs: {
    call: async (fx) => {
      const { jobId } = await fx.job();
      await fx.ok('CancelJob', { jobId });
      return { status: 'CANCELED' };
    },
    error: { when: 'the status is not a job status', call: async () => ({ status: 'RUNNING' }), expect: 'InvalidRequestException' },
  },
  DeleteJob: {
    call: async (fx) => {
      const { jobId } = await fx.job();
      await fx.ok('CancelJob', { jobId });
      return { jobId };
    },
    error: { when: 'the job is in progress and force is not set', call: async (fx) => ({ jobId: (await fx.job({ started: true })).jobId }), expect: 'InvalidStateTransitionException' },
    errors: [notFound(async () => ({ jobId: 'no-such-job' }))],
  },
  CancelJob: {
    call: async (fx) => ({ jobId: (await fx.job()).jobId, reasonCode: 'ROTATION_STOPPED', comment: 'Stopped' }),
    error: notFound(async () => ({ jobId: 'no-such-job' })),
  },
  ListJobExecutionsForJob: {
    call: async (fx) => ({ jobId: (await fx.job({ started: true })).jobId }),
    error: notFound(async () => ({ jobId: 'no-such-job' })),
  },
  ListJobExecutionsForThing: {
    call: async (fx) => ({ thingName: (await fx.job({ started: true })).thingName }),
    error: notFound(async () => ({ thingName: 'no-such-thing' })),
  },
  DescribeJobExecution: {
    call: async (fx) => {
      const { jobId, thingName } = await fx.job({ started: true });
      return { jobId, thingName };
    },
    variants: [
      async (fx) => {
        const { jobId, thingName } = await fx.job({ started: true });
        await fx.ok('CancelJobExecution', { jobId, thingName, force: true });
        return { jobId, thingName };
      },
    ],
    error: notFound(async (fx) => ({ jobId: 'no-such-job', thingName: (await fx.thing()).thingName })),
  },
  CancelJobExecution: {
    call: async (fx) => {
      const { jobId, thingName } = await fx.job();
      return { jobId, thingName, expectedVersion: 1, statusDetails: { reason: 'operator' } };
    },
    error: {
      when: 'the execution is in progress and force is not set',
      call: async (fx) => {
        const { jobId, thingName } = await fx.job({ started: true });
        return { jobId, thingName };
      },
      expect: 'InvalidStateTransitionException',
    },
    errors: [
      {
        when: 'the expected version is not the execution\'s',
        call: async (fx) => {
          const { jobId, thingName } = await fx.job();
          return { jobId, thingName, expectedVersion: 7 };
        },
        expect: 'VersionConflictException',
      },
    ],
  },

  // ---- event configurations ----
  UpdateEventConfigurations: {
    call: async () => ({ eventConfigurations: { JOB: { Enabled: true }, JOB_EXECUTION: { Enabled: false } } }),
    error: { when: 'an event type is not one of the model\'s', call: async () => ({ eventConfigurations: { JOBS: { Enabled: true } } }), expect: 'InvalidRequestException' },
  },
  DescribeEventConfigurations: {
    call: async () => ({}),
    error: throttled('DescribeEventConfigurations'),
  },

  // ---- endpoints ----
  DescribeEndpoint: {
    call: async () => ({ endpointType: 'iot:Data-ATS' }),
    error: { call: async () => ({ endpointType: 'iot:Nowhere' }), expect: 'InvalidRequestException' },
  },

  // ---- added with list paging and the missing operations (wt-ops) ----
  ListCertificatesByCA: {
    call: async (fx) => {
      await fx.registeredCertificate();
      return { caCertificateId: (await fx.ca()).certificateId, pageSize: 10, ascendingOrder: true };
    },
    error: { call: async (fx) => ({ caCertificateId: (await fx.ca()).certificateId, pageSize: 0 }), expect: 'InvalidRequestException' },
  },
  ListThingTypes: {
    // One of them deprecated (its deprecationDate answered).
    call: listing({ maxResults: 250 }, async (fx) => fx.ok('DeprecateThingType', { thingTypeName: await fx.thingType() }), (fx) => fx.thingType()),
    error: { call: async () => ({ maxResults: 0 }), expect: 'InvalidRequestException' },
  },
  DeprecateThingType: {
    call: async (fx) => ({ thingTypeName: await fx.thingType() }),
    error: notFound(async () => ({ thingTypeName: 'no-such-type' })),
  },
  DeleteThingType: {
    call: async (fx) => {
      const thingTypeName = await fx.thingType();
      await fx.ok('DeprecateThingType', { thingTypeName });
      // "Before you can delete a thing type, wait for five minutes after you deprecate it." (developer guide)
      fx.advanceClock(6 * 60_000);
      return { thingTypeName };
    },
    error: notFound(async () => ({ thingTypeName: 'no-such-type' })),
    errors: [
      { when: 'it is not deprecated', call: async (fx) => ({ thingTypeName: await fx.thingType() }), expect: 'InvalidRequestException' },
    ],
  },
  UpdateThingGroupsForThing: {
    call: async (fx) => {
      const { thingName, thingGroupName } = await fx.thingInGroup();
      return { thingName, thingGroupsToAdd: [await fx.thingGroup()], thingGroupsToRemove: [thingGroupName] };
    },
    error: notFound(async (fx) => ({ thingName: (await fx.thing()).thingName, thingGroupsToAdd: ['no-such-group'] })),
  },
  ListThingGroups: {
    call: async (fx) => {
      const parentGroup = await fx.thingGroup();
      await fx.thingGroup(await fx.thingGroup(parentGroup));
      return { parentGroup, recursive: true, maxResults: 10 };
    },
    error: notFound(async () => ({ parentGroup: 'no-such-group' })),
  },
  DeleteThingGroup: {
    call: async (fx) => ({ thingGroupName: await fx.thingGroup() }),
    error: { call: async (fx) => ({ thingGroupName: await fx.thingGroup(), expectedVersion: 7 }), expect: 'VersionConflictException' },
  },
  ListPolicies: {
    call: listing({ pageSize: 1, ascendingOrder: true }, (fx) => fx.policy(), (fx) => fx.policy()),
    error: { call: async () => ({ pageSize: 0 }), expect: 'InvalidRequestException' },
  },
  CreatePolicyVersion: {
    call: async (fx) => ({ policyName: await fx.policy(), policyDocument: POLICY_DOCUMENT, setAsDefault: true }),
    error: notFound(async () => ({ policyName: 'no-such-policy', policyDocument: POLICY_DOCUMENT })),
    errors: [
      {
        when: 'the policy has five versions already',
        call: async (fx) => {
          const policyName = await fx.policy();
          for (let i = 0; i < 4; i++) await fx.ok('CreatePolicyVersion', { policyName, policyDocument: POLICY_DOCUMENT });
          return { policyName, policyDocument: POLICY_DOCUMENT };
        },
        expect: 'VersionsLimitExceededException',
      },
      { when: 'the document is not a policy', call: async (fx) => ({ policyName: await fx.policy(), policyDocument: '{' }), expect: 'MalformedPolicyException' },
    ],
  },
  ListPolicyVersions: {
    call: async (fx) => {
      const policyName = await fx.policy();
      await fx.ok('CreatePolicyVersion', { policyName, policyDocument: POLICY_DOCUMENT });
      return { policyName };
    },
    error: notFound(async () => ({ policyName: 'no-such-policy' })),
  },
  GetPolicyVersion: {
    call: async (fx) => ({ policyName: await fx.policy(), policyVersionId: '1' }),
    error: notFound(async (fx) => ({ policyName: await fx.policy(), policyVersionId: '9' })),
  },
  SetDefaultPolicyVersion: {
    call: async (fx) => {
      const policyName = await fx.policy();
      const { policyVersionId } = await fx.ok('CreatePolicyVersion', { policyName, policyDocument: POLICY_DOCUMENT });
      return { policyName, policyVersionId };
    },
    error: notFound(async (fx) => ({ policyName: await fx.policy(), policyVersionId: '9' })),
  },
  DeletePolicyVersion: {
    call: async (fx) => {
      const policyName = await fx.policy();
      await fx.ok('CreatePolicyVersion', { policyName, policyDocument: POLICY_DOCUMENT });
      return { policyName, policyVersionId: '2' };
    },
    // The default version cannot be deleted (DeletePolicyVersion: "use DeletePolicy to delete the default version").
    error: { call: async (fx) => ({ policyName: await fx.policy(), policyVersionId: '1' }), expect: 'DeleteConflictException' },
  },
  DetachPrincipalPolicy: {
    call: async (fx) => {
      const policyName = await fx.policy();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachPrincipalPolicy', { policyName, principal: certificateArn });
      return { policyName, principal: certificateArn };
    },
    error: notFound(async (fx) => ({ policyName: 'no-such-policy', principal: (await fx.certificate()).certificateArn })),
  },
  ListPrincipalPolicies: {
    call: async (fx) => {
      const policyName = await fx.policy();
      const { certificateArn } = await fx.certificate();
      await fx.ok('AttachPolicy', { policyName, target: certificateArn });
      return { principal: certificateArn, pageSize: 10 };
    },
    error: { call: async (fx) => ({ principal: (await fx.certificate()).certificateArn, pageSize: 0 }), expect: 'InvalidRequestException' },
  },
  ListTargetsForPolicy: {
    call: async (fx) => {
      const policyName = await fx.policy();
      await fx.ok('AttachPolicy', { policyName, target: (await fx.certificate()).certificateArn });
      return { policyName, pageSize: 10 };
    },
    error: notFound(async () => ({ policyName: 'no-such-policy' })),
  },
  ListTopicRules: {
    call: listing({ maxResults: 1 }, (fx) => fx.topicRule(), (fx) => fx.topicRule()),
    error: { call: async () => ({ maxResults: 0 }), expect: 'InvalidRequestException' },
  },
  GetTopicRule: {
    call: async (fx) => ({ ruleName: fx.topicRule() }),
    // A rule that does not exist is "access denied": GetTopicRule documents no ResourceNotFoundException.
    error: { call: async () => ({ ruleName: 'no_such_rule' }), expect: 'UnauthorizedException' },
  },
  // A missing rule answers as GetTopicRule does (an assumption: neither operation documents ResourceNotFoundException).
  EnableTopicRule: {
    call: async (fx) => ({ ruleName: fx.topicRule() }),
    error: { call: async () => ({ ruleName: 'no_such_rule' }), expect: 'UnauthorizedException' },
  },
  DisableTopicRule: {
    call: async (fx) => ({ ruleName: fx.topicRule() }),
    error: { call: async () => ({ ruleName: 'no_such_rule' }), expect: 'UnauthorizedException' },
  },
  TagResource: {
    // Things take no tags (CreateThing has no tags member, TagResource refuses a thing ARN): a thing group does.
    call: async (fx) => ({ resourceArn: await fx.thingGroupArn(), tags: [{ Key: 'site', Value: 'lab' }] }),
    error: notFound(async () => ({ resourceArn: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:thinggroup/no-such-group`, tags: [{ Key: 'site', Value: 'lab' }] })),
    errors: [
      { when: 'the ARN is not a taggable resource', call: async (fx) => ({ resourceArn: (await fx.thing()).thingArn, tags: [{ Key: 'site', Value: 'lab' }] }), expect: 'InvalidRequestException' },
    ],
  },
  UntagResource: {
    call: async (fx) => {
      const resourceArn = await fx.thingGroupArn();
      await fx.ok('TagResource', { resourceArn, tags: [{ Key: 'site', Value: 'lab' }] });
      return { resourceArn, tagKeys: ['site'] };
    },
    error: notFound(async () => ({ resourceArn: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:thinggroup/no-such-group`, tagKeys: ['site'] })),
  },
  ListTagsForResource: {
    call: async (fx) => {
      const resourceArn = await fx.thingGroupArn();
      await fx.ok('TagResource', { resourceArn, tags: [{ Key: 'site', Value: 'lab' }, { Key: 'owner', Value: 'ops' }] });
      return { resourceArn };
    },
    error: notFound(async () => ({ resourceArn: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:thinggroup/no-such-group` })),
  },
};
