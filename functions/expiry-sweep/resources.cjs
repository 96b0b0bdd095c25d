'use strict';
/**
 * expirySweep's deployment: its trigger (an EventBridge schedule, the `expirySweepSchedule` stage parameter,
 * daily by default; osls compiles a `schedule` event into an AWS::Events::Rule and the Lambda permission
 * for events.amazonaws.com) and its role: Query on the registry's expiry indexes, Publish on the findings
 * topic, PutItem on the device timeline, SendMessage on the failure queue (its on-failure destination). serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)`.
 */

const events = [{ schedule: { rate: ['${param:expirySweepSchedule}'], enabled: true } }];

function resources({ IOT_ARN, STORES, FINDINGS, functionRole }) {
  return {
    Resources: {
      ExpirySweepRole: functionRole('expirySweep', [
        // A Query of an index is authorized on the index ARN (resources/storage.cjs EXPIRY_INDEXES); the IAM
        // reference lists `table` as Query's required resource type as well, so the table's ARN is granted
        // too. Query only: the sweep never reads or writes an item by key.
        { Sid: 'ExpiryIndexes', Effect: 'Allow', Action: 'dynamodb:Query', Resource: [STORES.registryArn, STORES.registryExpiryIndexesArn] },
        { Sid: 'Findings', Effect: 'Allow', Action: 'sns:Publish', Resource: FINDINGS.topicArn },
        // A due fleet device's binding is `claimed` in the registry: AWS IoT says whether it is ACTIVE.
        { Sid: 'FleetBindings', Effect: 'Allow', Action: 'iot:DescribeCertificate', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        // Each finding also goes on the device's timeline.
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
        // The async on-failure destination (serverless.yml `destinations`) uses the function's role.
        { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
