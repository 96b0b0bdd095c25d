'use strict';
/**
 * expirySweep's deployment: its trigger (an EventBridge schedule, the `expirySweepSchedule` stage parameter,
 * daily by default; osls compiles a `schedule` event into an AWS::Events::Rule and the Lambda permission
 * for events.amazonaws.com) and its role: Query on the registry's expiry indexes, Publish on the findings
 * topic, PutItem on the device timeline, SendMessage on the failure queue (its on-failure destination);
 * with auto-rotation, what shared/rotation/start.ts calls. serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)`.
 */

const events = [{ schedule: { rate: ['${param:expirySweepSchedule}'], enabled: true } }];

function resources({ IOT_ARN, STORES, FINDINGS, names, functionRole }) {
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
        // Auto-rotation (issue 14, shared/rotation/start.ts; granted whether or not the autoRotation stage parameter
        // is on: the calls are in the bundle either way). The registry item of each due device: read, then the
        // conditional write of its `rotation`.
        { Sid: 'RotationRegistry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        // The wave's static group rotation-<jobId> and its members.
        { Sid: 'RotationGroup', Effect: 'Allow', Action: 'iot:CreateThingGroup', Resource: { 'Fn::Sub': `${IOT_ARN}:thinggroup/rotation-rotate-*` } },
        {
          Sid: 'RotationGroupMembers',
          Effect: 'Allow',
          Action: 'iot:AddThingToThingGroup',
          Resource: [{ 'Fn::Sub': `${IOT_ARN}:thinggroup/rotation-rotate-*` }, { 'Fn::Sub': `${IOT_ARN}:thing/*` }],
        },
        // CreateJob authorizes the job, its template and its targets (the Service Authorization Reference: job,
        // thing and thinggroup required, jobtemplate optional); DescribeJob the job only.
        {
          Sid: 'RotationJob',
          Effect: 'Allow',
          Action: 'iot:CreateJob',
          Resource: [
            { 'Fn::Sub': `${IOT_ARN}:job/rotate-*` },
            { 'Fn::Sub': `${IOT_ARN}:jobtemplate/${names.rotationJobTemplate}` },
            { 'Fn::Sub': `${IOT_ARN}:thinggroup/rotation-rotate-*` },
            { 'Fn::Sub': `${IOT_ARN}:thing/*` },
          ],
        },
        { Sid: 'RotationJobRead', Effect: 'Allow', Action: 'iot:DescribeJob', Resource: { 'Fn::Sub': `${IOT_ARN}:job/rotate-*` } },
        // The commit and roll-back read the job-execution events: the start turns them on (an account setting,
        // no resource type: "*").
        { Sid: 'RotationEvents', Effect: 'Allow', Action: ['iot:DescribeEventConfigurations', 'iot:UpdateEventConfigurations'], Resource: '*' },
        // The async on-failure destination (serverless.yml `destinations`) uses the function's role.
        { Sid: 'FailureQueue', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.failureQueueArn },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
