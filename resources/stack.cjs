'use strict';
/**
 * The stack's CloudFormation resources, built from the stage parameters.
 *
 * serverless.yml includes this file (`resources: ${file(./resources/stack.cjs)}`); osls calls the exported
 * function with its variable resolver. The local IoT Core calls `buildResources` with the same settings,
 * so the registry table, device policy, topic rule and CA registration it creates locally are these very
 * definitions, not a copy.
 */

const RULE_TOPIC_FILTER = '$aws/events/certificates/registered/+';
const ARN_PREFIX_SUB = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}';

/** IoT rule names allow [a-zA-Z0-9_] only. */
const ruleName = (service, stage) => `${service}_${stage}_certificate_registered`.replace(/[^a-zA-Z0-9_]/g, '_');
const registryTableName = (service, stage) => `${service}-${stage}-devices`;

/**
 * The shared device policy: least privilege with policy variables. A device connects only as its own
 * thing (client id = thing name, certificate attached to the thing) and publishes/receives/subscribes only
 * under `device/<thing>/…` and its own shadow topics.
 * `arnPrefix` is `arn:<partition>:iot:<region>:<account>`; `thingName` the policy variable as written.
 */
function devicePolicyDocument(arnPrefix, thingName = '${iot:Connection.Thing.ThingName}') {
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
    ],
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

/**
 * @param {object} settings
 * @param {string} settings.service
 * @param {string} settings.stage
 * @param {string} settings.devicePolicyName
 * @param {string[]} settings.caCertificateIds
 * @param {string} [settings.caCertificatePem]
 * @param {'SNI_ONLY'|'DEFAULT'} settings.caCertificateMode
 * @param {string} [settings.verificationCertificatePem]
 * @param {string} settings.functionLogicalId  logical id of the JITR Lambda function
 */
function buildResources(settings) {
  const { service, stage, functionLogicalId } = settings;
  for (const id of settings.caCertificateIds) {
    if (!/^[a-f0-9]{64}$/.test(id)) throw new Error(`caCertificateIds: "${id}" is not a 64-hex CA certificate id`);
  }
  const rule = ruleName(service, stage);
  const Resources = {
    DeviceRegistryTable: {
      Type: 'AWS::DynamoDB::Table',
      // The registry is the operators' record of which device may hold which certificate: keep it.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: registryTableName(service, stage),
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'deviceId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'deviceId', KeyType: 'HASH' }],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    },
    ProvisioningFailureQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    },
    TopicRuleErrorRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'iot.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'send-rule-errors',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'Arn'] } },
              ],
            },
          },
        ],
      },
    },
    CertificateRegisteredRule: {
      Type: 'AWS::IoT::TopicRule',
      Properties: {
        RuleName: rule,
        TopicRulePayload: {
          Description: 'JITR: certificates registered by a CA with auto-registration go to activateCertificate',
          Sql: registeredRuleSql(settings.caCertificateIds),
          AwsIotSqlVersion: '2016-03-23',
          RuleDisabled: false,
          Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [functionLogicalId, 'Arn'] } } }],
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
        FunctionName: { 'Fn::GetAtt': [functionLogicalId, 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: 'iot.amazonaws.com',
        SourceArn: { 'Fn::Sub': `${ARN_PREFIX_SUB}:rule/${rule}` },
        SourceAccount: { Ref: 'AWS::AccountId' },
      },
    },
    DevicePolicy: {
      Type: 'AWS::IoT::Policy',
      Properties: {
        PolicyName: settings.devicePolicyName,
        PolicyDocument: subEveryString(devicePolicyDocument(ARN_PREFIX_SUB)),
      },
    },
  };
  const Outputs = {
    DeviceRegistryTableName: { Value: { Ref: 'DeviceRegistryTable' } },
    ProvisioningFailureQueueUrl: { Value: { Ref: 'ProvisioningFailureQueue' } },
    CertificateRegisteredRuleName: { Value: rule },
    DevicePolicyName: { Value: settings.devicePolicyName },
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
  const service = await resolveVariable('self:service');
  return buildResources({
    service,
    stage: await resolveVariable('sls:stage'),
    devicePolicyName: await param('devicePolicyName'),
    caCertificateIds: splitIds(await param('caCertificateIds')),
    caCertificatePem: readOptional(await param('caCertificateFile')),
    caCertificateMode: (await param('caCertificateMode')) || 'SNI_ONLY',
    verificationCertificatePem: readOptional(await param('verificationCertificateFile')),
    functionLogicalId: 'ActivateCertificateLambdaFunction',
  });
}

module.exports = resolveStack;
module.exports.buildResources = buildResources;
module.exports.devicePolicyDocument = devicePolicyDocument;
module.exports.registeredRuleSql = registeredRuleSql;
module.exports.registryTableName = registryTableName;
module.exports.ruleName = ruleName;
module.exports.splitIds = splitIds;
