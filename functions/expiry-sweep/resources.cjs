'use strict';
/**
 * expirySweep's deployment: its trigger (an EventBridge schedule, the `expirySweepSchedule` stage parameter,
 * daily by default; osls compiles a `schedule` event into an AWS::Events::Rule and the Lambda permission
 * for events.amazonaws.com) and its role: Query on the registry's expiry indexes, Publish on the findings
 * topic. serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)`.
 */

const events = [{ schedule: { rate: ['${param:expirySweepSchedule}'], enabled: true } }];

function resources({ STORES, FINDINGS, functionRole }) {
  return {
    Resources: {
      ExpirySweepRole: functionRole('expirySweep', [
        // The two sparse indexes only (resources/storage.cjs EXPIRY_INDEXES), never the table's items.
        { Sid: 'ExpiryIndexes', Effect: 'Allow', Action: 'dynamodb:Query', Resource: STORES.registryExpiryIndexesArn },
        { Sid: 'Findings', Effect: 'Allow', Action: 'sns:Publish', Resource: FINDINGS.topicArn },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
