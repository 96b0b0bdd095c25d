'use strict';
/**
 * retireCertificate's deployment: its trigger (the retirement queue vending sends to, resources/storage.cjs)
 * and its role. serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)` to the
 * template. Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

const events = [{ sqs: { arn: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] }, batchSize: 10, functionResponseType: 'ReportBatchItemFailures' } }];

function resources({ IOT_ARN, STORES, functionRole }) {
  return {
    Resources: {
      RetireCertificateRole: functionRole('retireCertificate', [
        {
          Sid: 'Certificates',
          Effect: 'Allow',
          Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings'],
          Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
        },
        // The certificate is DetachThingPrincipal's only resource type (a thing ARN here would match nothing).
        { Sid: 'Detach', Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        // The retireDelete option (serverless.yml). Granted whatever the parameter: the bundle holds both commands
        // either way (role-coverage compares the role with the bundle), and the code calls them only with
        // RETIRE_DELETE=true, on a certificate it has just made INACTIVE and detached — never the device's current one.
        // DetachPolicy's resource is its target (cert/*); the policy itself is not a resource of the action.
        { Sid: 'DeleteRetired', Effect: 'Allow', Action: ['iot:DetachPolicy', 'iot:DeleteCertificate'], Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        { Sid: 'Registry', Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: STORES.registryArn },
        {
          Sid: 'Queue',
          Effect: 'Allow',
          Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
          Resource: STORES.retirementQueueArn,
        },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
