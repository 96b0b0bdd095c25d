'use strict';
/**
 * vendCertificate's deployment: its trigger (POST and DELETE /devices/{deviceId}/certificate, IAM
 * authorization) and its role. serverless.yml reads `events` from here; resources/stack.cjs adds
 * `resources(stack)` to the template. The retirement queue it sends to is shared with retireCertificate
 * (resources/storage.cjs).
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

const events = ['POST', 'DELETE'].map((method) => ({ httpApi: { method, path: '/devices/{deviceId}/certificate', authorizer: { type: 'aws_iam' } } }));

function resources({ STORES, functionRole, bindingStatements }) {
  return {
    Resources: {
      VendCertificateRole: functionRole('vendCertificate', [
        // These two actions have no resource type: they can only be granted on '*'.
        { Sid: 'IssueCertificates', Effect: 'Allow', Action: ['iot:CreateKeysAndCertificate', 'iot:CreateCertificateFromCsr', 'iot:DescribeEndpoint'], Resource: '*' },
        // Revocation (DELETE) detaches the device policy too.
        ...bindingStatements(['iot:AttachPolicy', 'iot:DetachPolicy']),
        { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        { Sid: 'Idempotency', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Resource: STORES.ledgerArn },
        { Sid: 'Retirements', Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: STORES.retirementQueueArn },
        // Its refusals and activations on the device timeline (append-only: PutItem only).
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
