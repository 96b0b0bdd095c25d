'use strict';
/**
 * activateCertificate's deployment: its trigger (the topic rule on AWS IoT's certificate-registered events,
 * and the permission for it), its role, and the rule's error role. serverless.yml declares the function and
 * reads `events` from here; resources/stack.cjs adds `resources(stack)` to the template.
 *
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs), so that functions/
 * imports only functions/ and shared/ (.dependency-cruiser.cjs).
 */

const RULE_TOPIC_FILTER = '$aws/events/certificates/registered/+';

/** The rule SQL: every CA's registered events, or only the listed CAs' (topic(5) is the CA id). */
function registeredRuleSql(caCertificateIds) {
  const select = `SELECT * FROM '${RULE_TOPIC_FILTER}'`;
  if (!caCertificateIds.length) return select;
  return `${select} WHERE ${caCertificateIds.map((id) => `topic(5) = '${id}'`).join(' OR ')}`;
}

/**
 * No osls event: the trigger is the topic rule below. (An osls `iot` event would make the same rule under
 * another logical id, without the error action or the SourceAccount condition.)
 */
const events = [];

function resources({ settings, names, IOT_ARN, IOT_SERVICE_TRUST, FUNCTIONS, STORES, functionRole, bindingStatements }) {
  const rule = names.certificateRegisteredRule;
  return {
    Resources: {
      ActivateCertificateRole: functionRole('activateCertificate', [
        ...bindingStatements(['iot:AttachPolicy']),
        { Sid: 'CaCertificates', Effect: 'Allow', Action: 'iot:DescribeCACertificate', Resource: { 'Fn::Sub': `${IOT_ARN}:cacert/*` } },
        { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        // Activation leases: one invocation works on a registration while its duplicates are dropped.
        { Sid: 'ActivationLeases', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], Resource: STORES.ledgerArn },
        // Its decisions on the device timeline (append-only: PutItem only).
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
        // The async on-failure destination (serverless.yml `destinations`) uses the function's role.
        { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn },
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
          SourceArn: { 'Fn::Sub': `${IOT_ARN}:rule/${rule}` },
          SourceAccount: { Ref: 'AWS::AccountId' },
        },
      },
      // The role AWS IoT sends the rule's errors to the failure queue with.
      TopicRuleErrorRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
          Policies: [
            {
              PolicyName: 'send-rule-errors',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn }],
              },
            },
          ],
        },
      },
    },
    Outputs: {
      CertificateRegisteredRuleName: { Value: rule },
    },
  };
}

module.exports = { events, resources, registeredRuleSql };
