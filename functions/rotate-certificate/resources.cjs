'use strict';
/**
 * rotateCertificate's deployment (docs/rotation-design.md §1 S1, §3): the topic rule on devices' rotation
 * CSRs, the permission for it, and the function's role with exactly the calls of shared/rotation/issue.ts.
 * serverless.yml declares the function and reads `events` from here; resources/stack.cjs adds `resources(stack)`.
 */

const CSR_TOPIC_FILTER = 'device/+/rotation/csr';

/**
 * The device's JSON payload plus who sent it: topic(2) is the thing of the topic, principal() the certificate
 * id of the device's connection, clientid() its MQTT client id (SQL functions,
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html). Admission compares all three
 * with the registry.
 */
const CSR_RULE_SQL = `SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM '${CSR_TOPIC_FILTER}'`;

/** No osls event: the trigger is the topic rule below (as activateCertificate's). */
const events = [];

function resources({ names, IOT_ARN, FUNCTIONS, STORES, functionRole }) {
  const rule = names.rotationCsrRule;
  const cert = { 'Fn::Sub': `${IOT_ARN}:cert/*` };
  return {
    Resources: {
      RotateCertificateRole: functionRole('rotateCertificate', [
        // The action has no resource type (Service Authorization Reference): `*` is the only resource it takes.
        { Sid: 'CreateFromCsr', Effect: 'Allow', Action: 'iot:CreateCertificateFromCsr', Resource: '*' },
        // The current certificate's key (key-reused), the new one's PEM for a re-sent CSR, and activation.
        { Sid: 'Certificates', Effect: 'Allow', Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate'], Resource: cert },
        // AttachPolicy's resource is its target (cert or thinggroup): certificates only; the code attaches
        // DEVICE_POLICY_NAME and nothing else (resources/iam.cjs explains why no policy ARN can say so).
        { Sid: 'PoliciesOnCertificates', Effect: 'Allow', Action: 'iot:AttachPolicy', Resource: cert },
        { Sid: 'ThingPrincipals', Effect: 'Allow', Action: 'iot:AttachThingPrincipal', Resource: cert },
        // Only rotation jobs (shared/rotation/model.ts ROTATION_JOB_PREFIX), for any thing.
        {
          Sid: 'RotationJobExecutions',
          Effect: 'Allow',
          Action: 'iot:DescribeJobExecution',
          Resource: [{ 'Fn::Sub': `${IOT_ARN}:job/rotate-*` }, { 'Fn::Sub': `${IOT_ARN}:thing/*` }],
        },
        // The account's iot:Data-ATS endpoint for iot-data Publish (the action has no resource type).
        { Sid: 'DataEndpoint', Effect: 'Allow', Action: 'iot:DescribeEndpoint', Resource: '*' },
        // The answer on the device's certificate topic, and nothing else.
        { Sid: 'Answers', Effect: 'Allow', Action: 'iot:Publish', Resource: { 'Fn::Sub': `${IOT_ARN}:topic/device/*/rotation/certificate` } },
        { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
        // The async on-failure destination (serverless.yml `destinations`) uses the function's role.
        { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn },
      ]),
      RotationCsrRule: {
        Type: 'AWS::IoT::TopicRule',
        Properties: {
          RuleName: rule,
          TopicRulePayload: {
            Description: 'Certificate rotation: devices\' CSRs go to rotateCertificate',
            Sql: CSR_RULE_SQL,
            AwsIotSqlVersion: '2016-03-23',
            RuleDisabled: false,
            Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [FUNCTIONS.rotateCertificate, 'Arn'] } } }],
            // The same error role and queue as JITR's rule (functions/activate-certificate/resources.cjs).
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
      RotationCsrRulePermission: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          FunctionName: { 'Fn::GetAtt': [FUNCTIONS.rotateCertificate, 'Arn'] },
          Action: 'lambda:InvokeFunction',
          Principal: 'iot.amazonaws.com',
          SourceArn: { 'Fn::Sub': `${IOT_ARN}:rule/${rule}` },
          SourceAccount: { Ref: 'AWS::AccountId' },
        },
      },
    },
    Outputs: {
      RotationCsrRuleName: { Value: rule },
    },
  };
}

module.exports = { events, resources, CSR_RULE_SQL };
