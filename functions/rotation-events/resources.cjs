'use strict';
/**
 * rotationEvents' deployment (certificate rotation's commit and roll back, docs/rotation-design.md §1 S2/S3):
 * its two topic rules — the new certificate's connection (lifecycle events, on by default and not disableable:
 * https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html) and the job executions' end
 * (Jobs events, enabled by the rotation start with UpdateEventConfigurations JOB_EXECUTION:
 * https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html) — the permissions for them, and its
 * role. serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)` to the template.
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

/** Rule SQL: `$` topics do not match a leading wildcard, so each filter names its reserved prefix. */
const CONNECTED_SQL = "SELECT * FROM '$aws/events/presence/connected/+'";
const JOB_EXECUTION_SQL = "SELECT * FROM '$aws/events/jobExecution/+/+'";

/** No osls event: the triggers are the topic rules below (as activateCertificate's). */
const events = [];

function topicRule(description, ruleName, sql, FUNCTIONS) {
  return {
    Type: 'AWS::IoT::TopicRule',
    Properties: {
      RuleName: ruleName,
      TopicRulePayload: {
        Description: description,
        Sql: sql,
        AwsIotSqlVersion: '2016-03-23',
        RuleDisabled: false,
        Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [FUNCTIONS.rotationEvents, 'Arn'] } } }],
        // TopicRuleErrorRole: functions/activate-certificate/resources.cjs (sqs:SendMessage on the failure queue).
        ErrorAction: {
          Sqs: { QueueUrl: { Ref: 'ProvisioningFailureQueue' }, RoleArn: { 'Fn::GetAtt': ['TopicRuleErrorRole', 'Arn'] }, UseBase64: false },
        },
      },
    },
  };
}

/** Only this account's rule may invoke the function (aws-iot-reference §1.4: SourceArn + SourceAccount). */
function rulePermission(ruleName, IOT_ARN, FUNCTIONS) {
  return {
    Type: 'AWS::Lambda::Permission',
    Properties: {
      FunctionName: { 'Fn::GetAtt': [FUNCTIONS.rotationEvents, 'Arn'] },
      Action: 'lambda:InvokeFunction',
      Principal: 'iot.amazonaws.com',
      SourceArn: { 'Fn::Sub': `${IOT_ARN}:rule/${ruleName}` },
      SourceAccount: { Ref: 'AWS::AccountId' },
    },
  };
}

function resources({ names, IOT_ARN, FUNCTIONS, STORES, functionRole }) {
  return {
    Resources: {
      RotationEventsRole: functionRole('rotationEvents', [
        // The new certificate's facts for the binding (commit); revoke and detach it (roll back).
        {
          Sid: 'Certificates',
          Effect: 'Allow',
          Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings'],
          Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
        },
        // The certificate is DetachThingPrincipal's only resource type (a thing ARN here would match nothing).
        { Sid: 'Detach', Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
        // The old certificate's retirement after the grace period (retireCertificate reads the queue).
        { Sid: 'Retirements', Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: STORES.retirementQueueArn },
        // The async on-failure destination (serverless.yml `destinations`) uses the function's role.
        { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn },
      ]),
      RotationConnectedRule: topicRule(
        'Certificate rotation: a client connected; rotationEvents commits a rotation once its new certificate connected',
        names.rotationConnectedRule,
        CONNECTED_SQL,
        FUNCTIONS,
      ),
      RotationConnectedRulePermission: rulePermission(names.rotationConnectedRule, IOT_ARN, FUNCTIONS),
      RotationJobExecutionRule: topicRule(
        'Certificate rotation: a job execution ended; rotationEvents commits (SUCCEEDED) or rolls back the rotation',
        names.rotationJobExecutionRule,
        JOB_EXECUTION_SQL,
        FUNCTIONS,
      ),
      RotationJobExecutionRulePermission: rulePermission(names.rotationJobExecutionRule, IOT_ARN, FUNCTIONS),
    },
    Outputs: {
      RotationConnectedRuleName: { Value: names.rotationConnectedRule },
      RotationJobExecutionRuleName: { Value: names.rotationJobExecutionRule },
    },
  };
}

module.exports = { events, resources, CONNECTED_SQL, JOB_EXECUTION_SQL };
