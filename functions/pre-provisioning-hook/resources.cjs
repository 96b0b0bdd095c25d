'use strict';
/**
 * preProvisioningHook's deployment: its trigger (the fleet template of resources/fleet.cjs names it as its
 * pre-provisioning hook; the permission below lets that template alone invoke it) and its role.
 * serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)` to the template.
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

/** No osls event: AWS IoT invokes the hook for every RegisterThing of the stack's template. */
const events = [];

function resources({ settings, IOT_ARN, FUNCTIONS, STORES, functionRole, fleetTemplateArn }) {
  return {
    Resources: {
      PreProvisioningHookRole: functionRole('preProvisioningHook', [
        { Sid: 'BoundCertificates', Effect: 'Allow', Action: 'iot:DescribeCertificate', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        { Sid: 'Registry', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: STORES.registryArn },
        { Sid: 'Ledger', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: STORES.ledgerArn },
        // Its decisions on the device timeline (append-only: PutItem only).
        { Sid: 'Timeline', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.timelineArn },
      ]),
      // Only this account's template may invoke the hook (confused deputy, aws-iot-reference §3.3).
      PreProvisioningHookPermission: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          FunctionName: { 'Fn::GetAtt': [FUNCTIONS.preProvisioningHook, 'Arn'] },
          Action: 'lambda:InvokeFunction',
          Principal: 'iot.amazonaws.com',
          SourceArn: fleetTemplateArn(IOT_ARN, settings.fleetTemplateName),
          SourceAccount: { Ref: 'AWS::AccountId' },
        },
      },
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
