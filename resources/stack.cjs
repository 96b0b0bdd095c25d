'use strict';
/**
 * The stack's CloudFormation resources, built from the stage parameters.
 *
 * serverless.yml includes this file (`resources: ${file(./resources/stack.cjs)}`); osls calls the exported
 * function with its variable resolver. The local IoT Core calls `buildResources` with the same settings,
 * so the tables, policies, topic rule, provisioning template and CA registration it creates locally are
 * these very definitions, not a copy.
 *
 * Every function has its own role with only what it calls (no `iot:*`, no `Resource: '*'` where an ARN
 * can be named).
 */

const RULE_TOPIC_FILTER = '$aws/events/certificates/registered/+';
const ARN = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}';

/** IoT rule names allow [a-zA-Z0-9_] only. */
const ruleName = (service, stage) => `${service}_${stage}_certificate_registered`.replace(/[^a-zA-Z0-9_]/g, '_');
const registryTableName = (service, stage) => `${service}-${stage}-devices`;
const ledgerTableName = (service, stage) => `${service}-${stage}-provisioning-ledger`;
const fleetThingGroupName = (service, stage) => `${service}-${stage}-fleet`;
const deviceThingTypeName = (service, stage) => `${service}-${stage}-device`;
const functionName = (service, stage, name) => `${service}-${stage}-${name}`;
const roleAliasName = (service, stage) => `${service}-${stage}-device`;
const retirementQueueName = (service, stage) => `${service}-${stage}-retirements`;
const certificateResourceExportName = (service, stage) => `${service}-${stage}-CertificateResourceServiceToken`;

/** Logical ids osls gives the functions of serverless.yml. */
const FUNCTIONS = {
  activateCertificate: 'ActivateCertificateLambdaFunction',
  preProvisioningHook: 'PreProvisioningHookLambdaFunction',
  vendProvisioningClaim: 'VendProvisioningClaimLambdaFunction',
  vendCertificate: 'VendCertificateLambdaFunction',
  retireCertificate: 'RetireCertificateLambdaFunction',
  certificateResource: 'CertificateResourceLambdaFunction',
};

/**
 * The shared device policy: least privilege with policy variables. A device connects only as its own
 * thing (client id = thing name, certificate attached to the thing) and publishes/receives/subscribes only
 * under `device/<thing>/…` and its own shadow topics; with the stack's role alias, it may trade its
 * certificate for that role's temporary credentials (aws-iot-reference §6).
 * `arnPrefix` is `arn:<partition>:iot:<region>:<account>`; `thingName` the policy variable as written.
 */
function devicePolicyDocument(arnPrefix, roleAlias, thingName = '${iot:Connection.Thing.ThingName}') {
  const topics = [`device/${thingName}/*`, `$aws/things/${thingName}/shadow/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: `${arnPrefix}:client/${thingName}`,
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: topics.map((topic) => `${arnPrefix}:topic/${topic}`),
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: topics.map((topic) => `${arnPrefix}:topicfilter/${topic}`),
      },
      ...(roleAlias ? [{ Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: `${arnPrefix}:rolealias/${roleAlias}` }] : []),
    ],
  };
}

/**
 * For long-lived claim certificates (provisioning by claim): only the fleet-provisioning API of this
 * stack's template (aws-iot-reference §3.1). Claims vended by CreateProvisioningClaim need no policy.
 */
function claimPolicyDocument(arnPrefix, templateName) {
  const topics = ['$aws/certificates/create/*', '$aws/certificates/create-from-csr/*', `$aws/provisioning-templates/${templateName}/provision/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arnPrefix}:client/*` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => `${arnPrefix}:topic/${t}`) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => `${arnPrefix}:topicfilter/${t}`) },
    ],
  };
}

/**
 * The fleet-provisioning template. The device sends only `SerialNumber` (the thing name); the
 * pre-provisioning hook overrides the group, the type and the attributes from the device registry.
 */
function fleetTemplateBody({ devicePolicyName, thingGroup, thingType, attributeNames }) {
  const attributeParameters = Object.fromEntries(attributeNames.map((name) => [`attr_${name}`, { Type: 'String', Default: '' }]));
  return {
    Parameters: {
      SerialNumber: { Type: 'String' },
      ThingGroupName: { Type: 'String', Default: thingGroup },
      ThingTypeName: { Type: 'String', Default: thingType },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
      ...attributeParameters,
    },
    Resources: {
      thing: {
        Type: 'AWS::IoT::Thing',
        // A re-provisioned device keeps its thing; its type and attributes follow the registry.
        OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'MERGE' },
        Properties: {
          ThingName: { Ref: 'SerialNumber' },
          ThingTypeName: { Ref: 'ThingTypeName' },
          ThingGroups: [{ Ref: 'ThingGroupName' }],
          AttributePayload: {
            provisionedBy: 'fleet-provisioning',
            ...Object.fromEntries(attributeNames.map((name) => [name, { Ref: `attr_${name}` }])),
          },
        },
      },
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: devicePolicyName } },
    },
    DeviceConfiguration: {},
  };
}

/** The rule SQL: every CA's registered events, or only the listed CAs' (topic(5) is the CA id). */
function registeredRuleSql(caCertificateIds) {
  const select = `SELECT * FROM '${RULE_TOPIC_FILTER}'`;
  if (!caCertificateIds.length) return select;
  return `${select} WHERE ${caCertificateIds.map((id) => `topic(5) = '${id}'`).join(' OR ')}`;
}

/** Wraps every string of a JSON value in Fn::Sub, escaping IoT policy variables as `${!…}`. */
function subEveryString(value) {
  if (typeof value === 'string') {
    return value.includes('${') ? { 'Fn::Sub': value.replace(/\$\{iot:/g, '${!iot:') } : value;
  }
  if (Array.isArray(value)) return value.map(subEveryString);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, subEveryString(v)]));
  }
  return value;
}

const splitIds = (value) =>
  String(value || '')
    .split(',')
    .map((id) => id.trim().toLowerCase())
    .filter(Boolean);

const splitNames = (value) =>
  String(value || '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);

/** Roles AWS IoT assumes (rule actions, provisioning), for this account only (confused deputy). */
const IOT_SERVICE_TRUST = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'iot.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    },
  ],
};

/** A function's own role: its log group, plus `statements`. */
function functionRole(service, stage, name, statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [
        {
          PolicyName: name,
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'Logs',
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: {
                  'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName(service, stage, name)}:*`,
                },
              },
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

/**
 * What the shared binding workflow (shared/provisioning/bind-certificate.ts) calls: read and set certificate
 * status, create the thing and put it in its group, attach (and detach) the certificate, attach the one
 * device policy — JITR and vending alike.
 */
const bindingStatements = (policyActions) => [
  {
    Sid: 'Certificates',
    Effect: 'Allow',
    Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings', 'iot:ListAttachedPolicies'],
    Resource: { 'Fn::Sub': `${ARN}:cert/*` },
  },
  {
    Sid: 'Things',
    Effect: 'Allow',
    Action: ['iot:CreateThing', 'iot:AttachThingPrincipal', 'iot:DetachThingPrincipal', 'iot:AddThingToThingGroup'],
    Resource: [{ 'Fn::Sub': `${ARN}:thing/*` }, { 'Fn::Sub': `${ARN}:thinggroup/*` }, { 'Fn::Sub': `${ARN}:cert/*` }],
  },
  // IAM cannot say which policy may be attached: the service authorization reference lists only the target
  // (cert, thinggroup) as AttachPolicy's and DetachPolicy's resources, and no condition key names the policy.
  // A `policy/<name>` ARN here would restrict nothing, so the statement says what it does — certificates as
  // targets only, no thing groups — and the code attaches DEVICE_POLICY_NAME and nothing else.
  {
    Sid: 'PoliciesOnCertificates',
    Effect: 'Allow',
    Action: policyActions.length === 1 ? policyActions[0] : policyActions,
    Resource: { 'Fn::Sub': `${ARN}:cert/*` },
  },
];

/** Private, encrypted, owner-enforced, all public access blocked; `extra` adds properties (a lifecycle, say). */
const privateBucket = (extra = {}) => ({
  Type: 'AWS::S3::Bucket',
  Properties: {
    ...extra,
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
  },
});

/** Refuses every request to the bucket that does not come over TLS. */
const tlsOnlyBucketPolicy = (bucketLogicalId) => ({
  Type: 'AWS::S3::BucketPolicy',
  Properties: {
    Bucket: { Ref: bucketLogicalId },
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TlsOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [{ 'Fn::GetAtt': [bucketLogicalId, 'Arn'] }, { 'Fn::Sub': `\${${bucketLogicalId}.Arn}/*` }],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    },
  },
});

const table = (name, key, extra = {}) => ({
  Type: 'AWS::DynamoDB::Table',
  // Registry and ledger are the operators' records: keep them when the stack goes.
  DeletionPolicy: 'Retain',
  UpdateReplacePolicy: 'Retain',
  Properties: {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    ...extra,
  },
});

/**
 * @param {object} settings
 * @param {string} settings.service
 * @param {string} settings.stage
 * @param {string} settings.devicePolicyName
 * @param {string[]} settings.caCertificateIds
 * @param {string} [settings.caCertificatePem]
 * @param {'SNI_ONLY'|'DEFAULT'} settings.caCertificateMode
 * @param {string} [settings.verificationCertificatePem]
 * @param {string} settings.fleetTemplateName
 * @param {string[]} settings.fleetThingAttributes
 */
function buildResources(settings) {
  const { service, stage } = settings;
  for (const id of settings.caCertificateIds) {
    if (!/^[a-f0-9]{64}$/.test(id)) throw new Error(`caCertificateIds: "${id}" is not a 64-hex CA certificate id`);
  }
  if (!/^[0-9A-Za-z_-]{1,36}$/.test(settings.fleetTemplateName)) {
    throw new Error(`fleetTemplateName: "${settings.fleetTemplateName}" must be 1-36 characters of [0-9A-Za-z_-]`);
  }
  for (const name of settings.fleetThingAttributes) {
    if (!/^[a-zA-Z0-9_-]{1,100}$/.test(name)) throw new Error(`fleetThingAttributes: "${name}" is not an attribute name`);
  }
  const rule = ruleName(service, stage);
  const templateName = settings.fleetTemplateName;
  const thingGroup = fleetThingGroupName(service, stage);
  const thingType = deviceThingTypeName(service, stage);
  const registryArn = { 'Fn::GetAtt': ['DeviceRegistryTable', 'Arn'] };
  const ledgerArn = { 'Fn::GetAtt': ['ProvisioningLedgerTable', 'Arn'] };
  const templateArn = { 'Fn::Sub': `${ARN}:provisioningtemplate/${templateName}` };

  const Resources = {
    DeviceRegistryTable: table(registryTableName(service, stage), 'deviceId'),
    ProvisioningLedgerTable: table(ledgerTableName(service, stage), 'pk', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
    ProvisioningFailureQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    },
    TopicRuleErrorRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
        Policies: [
          {
            PolicyName: 'send-rule-errors',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] } }],
            },
          },
        ],
      },
    },

    // ---- JITR ----
    ActivateCertificateRole: functionRole(service, stage, 'activateCertificate', [
      ...bindingStatements(['iot:AttachPolicy']),
      { Sid: 'CaCertificates', Effect: 'Allow', Action: 'iot:DescribeCACertificate', Resource: { 'Fn::Sub': `${ARN}:cacert/*` } },
      { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: registryArn },
      // Activation leases: one invocation works on a registration while its duplicates are dropped.
      { Sid: 'ActivationLeases', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], Resource: ledgerArn },
      // The async on-failure destination uses the function's role.
      { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] } },
    ]),
    CertificateRegisteredRule: {
      Type: 'AWS::IoT::TopicRule',
      Properties: {
        RuleName: rule,
        TopicRulePayload: {
          Description: 'JITR: certificates registered by a CA with auto-registration go to activateCertificate',
          Sql: registeredRuleSql(settings.caCertificateIds),
          AwsIotSqlVersion: '2016-03-23',
          RuleDisabled: false,
          Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [FUNCTIONS.activateCertificate, 'Arn'] } } }],
          ErrorAction: {
            Sqs: {
              QueueUrl: { Ref: 'ProvisioningFailureQueue' },
              RoleArn: { 'Fn::GetAtt': ['TopicRuleErrorRole', 'Arn'] },
              UseBase64: false,
            },
          },
        },
      },
    },
    // Only this account's rule may invoke the function (aws-iot-reference §1.4: SourceArn + SourceAccount).
    CertificateRegisteredRulePermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: { 'Fn::GetAtt': [FUNCTIONS.activateCertificate, 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: 'iot.amazonaws.com',
        SourceArn: { 'Fn::Sub': `${ARN}:rule/${rule}` },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    },
    DevicePolicy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyName: settings.devicePolicyName,
        PolicyDocument: subEveryString(devicePolicyDocument(ARN, roleAliasName(service, stage))),
      },
    },

    // ---- certificate vending ----
    // Rotated-out certificates wait here for their grace period (DelaySeconds); failures end in the failure queue.
    // Named, so that the vending function finds it by name (GetQueueUrl) — `serverless invoke local` cannot
    // resolve a `!Ref` in an environment variable without a deployed stack.
    RetirementQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: retirementQueueName(service, stage),
        SqsManagedSseEnabled: true,
        VisibilityTimeout: 60,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] }, maxReceiveCount: 5 },
      },
    },
    VendCertificateRole: functionRole(service, stage, 'vendCertificate', [
      // These two actions have no resource type: they can only be granted on '*'.
      { Sid: 'IssueCertificates', Effect: 'Allow', Action: ['iot:CreateKeysAndCertificate', 'iot:CreateCertificateFromCsr', 'iot:DescribeEndpoint'], Resource: '*' },
      // Revocation (DELETE) detaches the device policy too.
      ...bindingStatements(['iot:AttachPolicy', 'iot:DetachPolicy']),
      { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: registryArn },
      { Sid: 'Idempotency', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: ledgerArn },
      { Sid: 'Retirements', Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] } },
    ]),
    RetireCertificateRole: functionRole(service, stage, 'retireCertificate', [
      {
        Sid: 'Certificates',
        Effect: 'Allow',
        Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings'],
        Resource: { 'Fn::Sub': `${ARN}:cert/*` },
      },
      { Sid: 'Detach', Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: [{ 'Fn::Sub': `${ARN}:thing/*` }, { 'Fn::Sub': `${ARN}:cert/*` }] },
      { Sid: 'Registry', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: registryArn },
      {
        Sid: 'Queue',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
        Resource: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] },
      },
    ]),

    // ---- the Custom::DeviceCertificate custom resource (seed 002) ----
    // Devices' certificates and private keys under <thing>/. Not versioned, so a Delete removes a key for good.
    CertificateBucket: privateBucket({
      // The custom resource's Delete marks (shared/aws/certificate-store.ts): needed for six hours at most.
      LifecycleConfiguration: { Rules: [{ Id: 'ExpireDeleteMarks', Status: 'Enabled', Prefix: '.deleted/', ExpirationInDays: 7 }] },
    }),
    // Private keys travel over TLS only (the device-data bucket holds no secrets and has no such policy).
    CertificateBucketPolicy: tlsOnlyBucketPolicy('CertificateBucket'),
    CertificateResourceRole: functionRole(service, stage, 'certificateResource', [
      // These two actions have no resource type: they can only be granted on '*'.
      { Sid: 'IssueCertificates', Effect: 'Allow', Action: ['iot:CreateKeysAndCertificate', 'iot:DescribeEndpoint'], Resource: '*' },
      {
        Sid: 'Certificates',
        Effect: 'Allow',
        Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:DeleteCertificate', 'iot:ListPrincipalThings', 'iot:ListAttachedPolicies'],
        Resource: { 'Fn::Sub': `${ARN}:cert/*` },
      },
      // A Delete detaches what stacks attached (ThingPrincipalAttachment, PolicyPrincipalAttachment).
      { Sid: 'DetachThings', Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: [{ 'Fn::Sub': `${ARN}:thing/*` }, { 'Fn::Sub': `${ARN}:cert/*` }] },
      // Which policy cannot be scoped (see bindingStatements): the certificate is DetachPolicy's resource.
      { Sid: 'DetachPolicies', Effect: 'Allow', Action: 'iot:DetachPolicy', Resource: { 'Fn::Sub': `${ARN}:cert/*` } },
      // GetObject is what HeadObject needs: objects are removed only by the certificate that wrote them.
      { Sid: 'KeyObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: { 'Fn::Sub': '${CertificateBucket.Arn}/*' } },
      { Sid: 'ListKeyObjects', Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': ['CertificateBucket', 'Arn'] } },
    ]),

    // ---- device credentials (seed 003) ----
    // An example of what devices can do with their certificate alone: write under their own prefix.
    DeviceDataBucket: privateBucket(),
    DeviceDataBucketPolicy: tlsOnlyBucketPolicy('DeviceDataBucket'),
    DeviceCredentialsRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'credentials.iot.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'own-prefix-only',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['s3:PutObject', 's3:GetObject'],
                  // credentials-iot:ThingName is the thing named in x-amzn-iot-thingname (aws-iot-reference §6).
                  Resource: { 'Fn::Sub': '${DeviceDataBucket.Arn}/things/${!credentials-iot:ThingName}/*' },
                },
              ],
            },
          },
        ],
      },
    },
    DeviceRoleAlias: {
      Type: 'AWS::IoT::RoleAlias',
      Properties: {
        RoleAlias: roleAliasName(service, stage),
        RoleArn: { 'Fn::GetAtt': ['DeviceCredentialsRole', 'Arn'] },
        CredentialDurationSeconds: 3600,
      },
    },

    // ---- fleet provisioning ----
    FleetThingGroup: { Type: 'AWS::IoT::ThingGroup', Properties: { ThingGroupName: thingGroup } },
    DeviceThingType: {
      Type: 'AWS::IoT::ThingType',
      Properties: { ThingTypeName: thingType, ThingTypeProperties: { ThingTypeDescription: 'Devices provisioned by iot-provisioner' } },
    },
    ProvisioningRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
        ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTThingsRegistration' }],
      },
    },
    PreProvisioningHookRole: functionRole(service, stage, 'preProvisioningHook', [
      { Sid: 'BoundCertificates', Effect: 'Allow', Action: 'iot:DescribeCertificate', Resource: { 'Fn::Sub': `${ARN}:cert/*` } },
      { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: registryArn },
      { Sid: 'Ledger', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: ledgerArn },
    ]),
    // Only this account's template may invoke the hook (confused deputy, aws-iot-reference §3.3).
    PreProvisioningHookPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: { 'Fn::GetAtt': [FUNCTIONS.preProvisioningHook, 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: 'iot.amazonaws.com',
        SourceArn: templateArn,
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    },
    FleetProvisioningTemplate: {
      Type: 'AWS::IoT::ProvisioningTemplate',
      DependsOn: ['PreProvisioningHookPermission', 'DevicePolicy', 'FleetThingGroup', 'DeviceThingType'],
      Properties: {
        TemplateName: templateName,
        Description: 'Fleet provisioning: thing named by SerialNumber; group, type and attributes from the device registry',
        Enabled: true,
        TemplateType: 'FLEET_PROVISIONING',
        ProvisioningRoleArn: { 'Fn::GetAtt': ['ProvisioningRole', 'Arn'] },
        PreProvisioningHook: { TargetArn: { 'Fn::GetAtt': [FUNCTIONS.preProvisioningHook, 'Arn'] }, PayloadVersion: '2020-04-01' },
        TemplateBody: JSON.stringify(
          fleetTemplateBody({ devicePolicyName: settings.devicePolicyName, thingGroup, thingType, attributeNames: settings.fleetThingAttributes }),
        ),
      },
    },
    ClaimPolicy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyName: `${service}-${stage}-claim`,
        PolicyDocument: subEveryString(claimPolicyDocument(ARN, templateName)),
      },
    },

    // ---- trusted-user claims ----
    UserPool: {
      Type: 'AWS::Cognito::UserPool',
      Properties: {
        UserPoolName: `${service}-${stage}-operators`,
        // Operators are invited, never self-registered.
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        UsernameAttributes: ['email'],
        AutoVerifiedAttributes: ['email'],
        MfaConfiguration: 'OFF',
        Policies: {
          PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
        },
        AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      },
    },
    UserPoolClient: {
      Type: 'AWS::Cognito::UserPoolClient',
      Properties: {
        UserPoolId: { Ref: 'UserPool' },
        ClientName: `${service}-${stage}-app`,
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        PreventUserExistenceErrors: 'ENABLED',
      },
    },
    VendProvisioningClaimRole: functionRole(service, stage, 'vendProvisioningClaim', [
      { Sid: 'ClaimsOfTheTemplateOnly', Effect: 'Allow', Action: 'iot:CreateProvisioningClaim', Resource: templateArn },
      // DescribeEndpoint has no resource type: it can only be granted on '*'.
      { Sid: 'Endpoint', Effect: 'Allow', Action: 'iot:DescribeEndpoint', Resource: '*' },
      { Sid: 'Ledger', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: ledgerArn },
    ]),
  };
  const Outputs = {
    DeviceRegistryTableName: { Value: { Ref: 'DeviceRegistryTable' } },
    ProvisioningLedgerTableName: { Value: { Ref: 'ProvisioningLedgerTable' } },
    ProvisioningFailureQueueUrl: { Value: { Ref: 'ProvisioningFailureQueue' } },
    CertificateRegisteredRuleName: { Value: rule },
    DevicePolicyName: { Value: settings.devicePolicyName },
    FleetProvisioningTemplateName: { Value: templateName },
    ClaimPolicyName: { Value: { Ref: 'ClaimPolicy' } },
    UserPoolId: { Value: { Ref: 'UserPool' } },
    UserPoolClientId: { Value: { Ref: 'UserPoolClient' } },
    DeviceRoleAlias: { Value: roleAliasName(service, stage) },
    DeviceDataBucketName: { Value: { Ref: 'DeviceDataBucket' } },
    RetirementQueueUrl: { Value: { Ref: 'RetirementQueue' } },
    CertificateBucketName: { Value: { Ref: 'CertificateBucket' } },
    // Other stacks' Custom::DeviceCertificate resources: ServiceToken: !ImportValue <service>-<stage>-CertificateResourceServiceToken
    CertificateResourceServiceToken: {
      Value: { 'Fn::GetAtt': [FUNCTIONS.certificateResource, 'Arn'] },
      Export: { Name: certificateResourceExportName(service, stage) },
    },
  };

  if (settings.caCertificatePem) {
    const mode = settings.caCertificateMode;
    if (mode !== 'SNI_ONLY' && mode !== 'DEFAULT') throw new Error(`caCertificateMode must be SNI_ONLY or DEFAULT, not "${mode}"`);
    if (mode === 'DEFAULT' && !settings.verificationCertificatePem) {
      throw new Error('caCertificateMode DEFAULT needs verificationCertificateFile (a certificate whose CN is the registration code)');
    }
    Resources.CaCertificate = {
      Type: 'AWS::IoT::CACertificate',
      Properties: {
        CACertificatePem: settings.caCertificatePem,
        CertificateMode: mode,
        Status: 'ACTIVE',
        AutoRegistrationStatus: 'ENABLE',
        ...(mode === 'DEFAULT' ? { VerificationCertificatePem: settings.verificationCertificatePem } : {}),
      },
    };
    Outputs.CaCertificateId = { Value: { Ref: 'CaCertificate' } };
  }
  return { Resources, Outputs };
}

/** Reads the stage parameters through osls' resolver (files are read relative to the service directory). */
async function resolveStack({ resolveVariable }) {
  const fs = require('node:fs');
  const path = require('node:path');
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}`);
    return value == null ? '' : String(value).trim();
  };
  const readOptional = (file) => (file ? fs.readFileSync(path.resolve(process.cwd(), file), 'utf8') : undefined);
  return buildResources({
    service: await resolveVariable('self:service'),
    stage: await resolveVariable('sls:stage'),
    devicePolicyName: await param('devicePolicyName'),
    caCertificateIds: splitIds(await param('caCertificateIds')),
    caCertificatePem: readOptional(await param('caCertificateFile')),
    caCertificateMode: (await param('caCertificateMode')) || 'SNI_ONLY',
    verificationCertificatePem: readOptional(await param('verificationCertificateFile')),
    fleetTemplateName: await param('fleetTemplateName'),
    fleetThingAttributes: splitNames(await param('fleetThingAttributes')),
  });
}

module.exports = resolveStack;
Object.assign(module.exports, {
  buildResources,
  devicePolicyDocument,
  claimPolicyDocument,
  fleetTemplateBody,
  registeredRuleSql,
  registryTableName,
  ledgerTableName,
  fleetThingGroupName,
  deviceThingTypeName,
  roleAliasName,
  retirementQueueName,
  certificateResourceExportName,
  ruleName,
  splitIds,
  splitNames,
  FUNCTIONS,
});
