'use strict';
/**
 * consoleQueue's deployment: the operator console's failure-queue routes (issue 12) behind the operators'
 * JWT authorizer (the group is checked in code: shared/http/console.ts), and its role: the failure queue
 * (counts, receive, delete, visibility), the async re-invoke of the functions whose failures land there,
 * and SendMessage back to the retirement queue for its dead letters (shared/failures/redrive.ts).
 */

const operators = { name: 'operators' };
const events = [
  { httpApi: { method: 'GET', path: '/failure-queue', authorizer: operators } },
  { httpApi: { method: 'POST', path: '/failure-queue/redrive', authorizer: operators } },
];

/** The functions whose async failures end in the failure queue (serverless.yml `destinations.onFailure`). */
const REDRIVEN_FUNCTIONS = ['activateCertificate', 'expirySweep', 'rotateCertificate', 'rotationEvents'];

function resources({ STORES, names, functionRole }) {
  return {
    Resources: {
      ConsoleQueueRole: functionRole('consoleQueue', [
        {
          Sid: 'FailureQueue',
          Effect: 'Allow',
          Action: ['sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
          Resource: STORES.failureQueueArn,
        },
        { Sid: 'RetirementsBack', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: STORES.retirementQueueArn },
        {
          Sid: 'ReinvokeFailed',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          // By name (resources/names.cjs), as the role of the function it invokes is built beside it.
          Resource: REDRIVEN_FUNCTIONS.map((name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${names.functions[name]}` })),
        },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources, REDRIVEN_FUNCTIONS };
