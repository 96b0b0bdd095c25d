'use strict';
/**
 * vendProvisioningClaim's deployment: its trigger (POST /provisioning-claims behind the operators' JWT
 * authorizer of serverless.yml provider.httpApi) and its role. serverless.yml reads `events` from here;
 * resources/stack.cjs adds `resources(stack)` to the template.
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

const events = [{ httpApi: { method: 'POST', path: '/provisioning-claims', authorizer: { name: 'operators' } } }];

function resources({ settings, STORES, functionRole, fleetTemplateArn, IOT_ARN }) {
  return {
    Resources: {
      VendProvisioningClaimRole: functionRole('vendProvisioningClaim', [
        { Sid: 'ClaimsOfTheTemplateOnly', Effect: 'Allow', Action: 'iot:CreateProvisioningClaim', Resource: fleetTemplateArn(IOT_ARN, settings.fleetTemplateName) },
        // DescribeEndpoint has no resource type: it can only be granted on '*'.
        { Sid: 'Endpoint', Effect: 'Allow', Action: 'iot:DescribeEndpoint', Resource: '*' },
        { Sid: 'Ledger', Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: STORES.ledgerArn },
      ]),
    },
    Outputs: {},
  };
}

module.exports = { events, resources };
