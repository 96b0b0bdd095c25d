'use strict';
/**
 * consoleDevices' deployment: the operator console's read routes (issue 12) behind the operators' JWT
 * authorizer of serverless.yml provider.httpApi (the group is checked in code: shared/http/console.ts), and
 * its role — reads only: the registry (its device-list index, an entry), the timeline (a device's events, the
 * decisions index), the certificate, CA and thing in AWS IoT, and the failure queue (received with
 * VisibilityTimeout 0: read, never consumed), AWS IoT's Connect log, and the stage's metrics in CloudWatch
 * (GET /metrics: ListMetrics, GetMetricData). serverless.yml reads `events` from here.
 */

const operators = { name: 'operators' };
const events = [
  { httpApi: { method: 'GET', path: '/devices', authorizer: operators } },
  { httpApi: { method: 'GET', path: '/devices/{deviceId}', authorizer: operators } },
  { httpApi: { method: 'GET', path: '/devices/{deviceId}/why', authorizer: operators } },
  { httpApi: { method: 'GET', path: '/decisions', authorizer: operators } },
  { httpApi: { method: 'GET', path: '/metrics', authorizer: operators } },
];

function resources({ IOT_ARN, STORES, functionRole, listAttachedPolicies }) {
  return {
    Resources: {
      ConsoleDevicesRole: functionRole('consoleDevices', [
        { Sid: 'RegistryEntry', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: STORES.registryArn },
        // A Query of an index is authorized on the index ARN; the IAM reference lists `table` as Query's
        // required resource type as well, so the tables' ARNs are granted too (the device timeline is a
        // Query of the table itself).
        {
          Sid: 'ListsAndTimelines',
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          Resource: [STORES.registryArn, STORES.registryListIndexArn, STORES.timelineArn, STORES.timelineDecisionsIndexArn],
        },
        {
          Sid: 'Certificates',
          Effect: 'Allow',
          Action: ['iot:DescribeCertificate', 'iot:ListPrincipalThings'],
          Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
        },
        { Sid: 'CertificateAuthorities', Effect: 'Allow', Action: 'iot:DescribeCACertificate', Resource: { 'Fn::Sub': `${IOT_ARN}:cacert/*` } },
        { Sid: 'Things', Effect: 'Allow', Action: ['iot:DescribeThing', 'iot:ListThingGroupsForThing'], Resource: { 'Fn::Sub': `${IOT_ARN}:thing/*` } },
        listAttachedPolicies(),
        // DescribeEndpoint has no resource type: it can only be granted on '*'.
        { Sid: 'DataEndpoint', Effect: 'Allow', Action: 'iot:DescribeEndpoint', Resource: '*' },
        { Sid: 'FailureQueuePeek', Effect: 'Allow', Action: 'sqs:ReceiveMessage', Resource: STORES.failureQueueArn },
        // The diagnosis reads AWS IoT's Connect log entries (shared/aws/iot-logs/connects.ts) from its log group.
        { Sid: 'IotConnectLog', Effect: 'Allow', Action: 'logs:FilterLogEvents', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:AWSIotLogsV2:*' } },
        // The operator home's figures (shared/aws/cloudwatch/provisioning-metrics.ts). Neither action has a resource
        // type or condition key to scope it by (Service Authorization Reference, Amazon CloudWatch): '*' only.
        { Sid: 'StageMetrics', Effect: 'Allow', Action: ['cloudwatch:ListMetrics', 'cloudwatch:GetMetricData'], Resource: '*' },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
