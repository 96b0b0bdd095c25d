'use strict';
/**
 * consoleActions' deployment: the operator console's write routes (issue 12) — a device's lifecycle and
 * registry actions, and the factory import — behind the operators' JWT authorizer (the group is checked in
 * code: shared/http/console.ts), and its role: the registry (entries by key, the import's batches), the
 * timeline (append-only: PutItem and the import's BatchWriteItem) and the lifecycle's AWS IoT calls
 * (shared/aws/iot/lifecycle-calls.ts). serverless.yml reads `events` from here.
 */

const operators = { name: 'operators' };
const events = [
  { httpApi: { method: 'POST', path: '/devices/{deviceId}/actions', authorizer: operators } },
  { httpApi: { method: 'POST', path: '/devices/import', authorizer: operators } },
];

function resources({ IOT_ARN, STORES, functionRole, listAttachedPolicies }) {
  const thing = { 'Fn::Sub': `${IOT_ARN}:thing/*` };
  const cert = { 'Fn::Sub': `${IOT_ARN}:cert/*` };
  return {
    Resources: {
      ConsoleActionsRole: functionRole('consoleActions', [
        {
          Sid: 'Registry',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
          Resource: STORES.registryArn,
        },
        { Sid: 'Timeline', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], Resource: STORES.timelineArn },
        // suspend: INACTIVE; resume: ACTIVE; retire: REVOKED, then its policies and things detached.
        {
          Sid: 'Certificates',
          Effect: 'Allow',
          Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings', 'iot:DetachThingPrincipal', 'iot:DetachPolicy'],
          Resource: cert,
        },
        listAttachedPolicies(),
        // The quarantine group and the groups a suspension returns the thing to.
        { Sid: 'ThingGroups', Effect: 'Allow', Action: ['iot:AddThingToThingGroup', 'iot:RemoveThingFromThingGroup'], Resource: [thing, { 'Fn::Sub': `${IOT_ARN}:thinggroup/*` }] },
        { Sid: 'Things', Effect: 'Allow', Action: ['iot:ListThingGroupsForThing', 'iot:DeleteThing'], Resource: thing },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
