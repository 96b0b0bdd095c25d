import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import stackModule = require('../../resources/stack.cjs');
import namesModule = require('../../resources/names.cjs');
import type { FunctionKey } from '../../resources/names.cjs';
import { loadStack } from '../../lib/stack';
import { TEST_STACK_SETTINGS } from '../support/handlers';

/**
 * Each function's deployment lives beside it (style.md §13): serverless.yml declares the function and reads
 * its events from functions/<name>/resources.cjs, which also builds its role and the permissions that let
 * its trigger invoke it. And every derived name comes from resources/names.cjs.
 */

const ROOT = resolve(__dirname, '../..');
const text = readFileSync(resolve(ROOT, 'serverless.yml'), 'utf8');
// Short-form CloudFormation tags read as plain values: only the shape of the entries matters here.
const config = parse(text, { customTags: ['Ref', 'Sub', 'GetAtt'].map((name) => ({ tag: `!${name}`, resolve: (value: string) => value })) }) as {
  functions: Record<string, { handler: string; role: string; events: unknown }>;
};
const settings = TEST_STACK_SETTINGS;
const functions = Object.entries(config.functions);
const deploymentOf = (name: string) => stackModule.FUNCTION_DEPLOYMENTS[name as keyof typeof stackModule.FUNCTION_DEPLOYMENTS];

describe('each function’s deployment', () => {
  it('is deployed for every function of serverless.yml, and only for them', () => {
    expect(Object.keys(stackModule.FUNCTION_DEPLOYMENTS).sort()).toEqual(functions.map(([name]) => name).sort());
    expect(Object.keys(namesModule.FUNCTIONS).sort()).toEqual(functions.map(([name]) => name).sort());
    // resources/names.d.cts names the same functions (an object that must have every FunctionKey, and only them).
    const typed: Record<FunctionKey, true> = {
      activateCertificate: true,
      preProvisioningHook: true,
      vendProvisioningClaim: true,
      vendCertificate: true,
      retireCertificate: true,
      certificateResource: true,
      expirySweep: true,
      consoleDevices: true,
      consoleActions: true,
      consoleQueue: true,
      rotateCertificate: true,
      rotationEvents: true,
    };
    expect(Object.keys(typed).sort()).toEqual(functions.map(([name]) => name).sort());
  });

  it.each(functions)('of %s sits beside its handler, which serverless.yml reads its events from', (name, fn) => {
    const folder = dirname(fn.handler);
    expect(existsSync(resolve(ROOT, folder, 'resources.cjs'))).toBe(true);
    expect(deploymentOf(name)).toBe(require(resolve(ROOT, folder, 'resources.cjs')));
    expect(fn.events).toBe(`\${file(./${folder}/resources.cjs):events}`);
  });

  it.each(functions)('of %s builds the role serverless.yml gives it, and every permission to invoke it', (name, fn) => {
    const own = deploymentOf(name).resources(stackModule.stackContext(settings));
    expect(own.Resources[fn.role]?.Type).toBe('AWS::IAM::Role');
    // Every Lambda permission of the template that names this function is declared beside it.
    const { Resources } = stackModule.buildResources(settings);
    const logicalId = namesModule.FUNCTIONS[name as keyof typeof namesModule.FUNCTIONS];
    const permissions = Object.entries(Resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties.FunctionName).includes(`"${logicalId}"`),
    );
    for (const [id] of permissions) expect(Object.keys(own.Resources)).toContain(id);
  });

  it('gives the functions the events the local IoT Core reads (lib/stack.ts resolves the file variables)', () => {
    const stack = loadStack({ stage: 'test' });
    const byName = Object.fromEntries(stack.functions.map((f) => [f.name, f]));
    expect(byName.vendProvisioningClaim!.httpRoutes).toEqual([{ method: 'POST', path: '/provisioning-claims', authorizer: 'operators' }]);
    expect(byName.vendCertificate!.httpRoutes.map((r) => `${r.method} ${r.path} ${r.iam}`)).toEqual([
      'POST /devices/{deviceId}/certificate true',
      'DELETE /devices/{deviceId}/certificate true',
    ]);
    expect(byName.retireCertificate!.sqsEvents).toEqual([{ arn: { 'Fn::GetAtt': ['RetirementQueue', 'Arn'] }, batchSize: 10, reportBatchItemFailures: true }]);
    expect(byName.activateCertificate!.httpRoutes).toEqual([]);
  });
});

describe('the derived names', () => {
  it('are computed nowhere in serverless.yml but in resources/names.cjs', () => {
    expect(text).toContain('names: ${file(./resources/names.cjs)}');
    // No name built from the service and the stage in YAML (the provider's POWERTOOLS_SERVICE_NAME is the service itself).
    expect(text).not.toMatch(/\$\{self:service\}[-_]|\$\{sls:stage\}/);
  });

  it('are the ones serverless.yml gives the functions and the stack gives its resources', () => {
    const names = namesModule.namesFor('iot-provisioner', 'test');
    const stack = loadStack({ stage: 'test' });
    const env = Object.fromEntries(stack.functions.map((f) => [f.name, f.environment]));
    expect(env.vendCertificate).toMatchObject({
      DEVICE_REGISTRY_TABLE: names.registryTable,
      PROVISIONING_LEDGER_TABLE: names.ledgerTable,
      RETIREMENT_QUEUE_NAME: names.retirementQueue,
      ROLE_ALIAS: names.roleAlias,
      DEVICE_POLICY_NAME: names.devicePolicy,
    });
    expect(env.preProvisioningHook).toMatchObject({ FLEET_THING_GROUP: names.fleetThingGroup, FLEET_THING_TYPE: names.deviceThingType, FLEET_TEMPLATE_NAME: names.fleetTemplate });
    expect(stack.functions.map((f) => f.functionName).sort()).toEqual(Object.values(names.functions).sort());
    const { Resources, Outputs } = stack.resources;
    expect(Resources.DeviceRegistryTable!.Properties.TableName).toBe(names.registryTable);
    expect(Resources.ProvisioningLedgerTable!.Properties.TableName).toBe(names.ledgerTable);
    expect(Resources.RetirementQueue!.Properties.QueueName).toBe(names.retirementQueue);
    expect(Resources.DeviceRoleAlias!.Properties.RoleAlias).toBe(names.roleAlias);
    expect(Resources.FleetThingGroup!.Properties.ThingGroupName).toBe(names.fleetThingGroup);
    expect(Resources.QuarantineThingGroup!.Properties.ThingGroupName).toBe(names.quarantineThingGroup);
    expect(Resources.DeviceTimelineTable!.Properties).toMatchObject({
      TableName: names.timelineTable,
      KeySchema: [
        { AttributeName: 'deviceId', KeyType: 'HASH' },
        { AttributeName: 'at', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    for (const name of ['activateCertificate', 'preProvisioningHook', 'vendCertificate']) {
      expect(env[name]).toMatchObject({ DEVICE_TIMELINE_TABLE: names.timelineTable });
    }
    expect(Resources.DeviceThingType!.Properties.ThingTypeName).toBe(names.deviceThingType);
    expect(Resources.FleetProvisioningTemplate!.Properties.TemplateName).toBe(names.fleetTemplate);
    expect(Resources.CertificateRegisteredRule!.Properties.RuleName).toBe(names.certificateRegisteredRule);
    expect(Resources.ClaimPolicy!.Properties.PolicyName).toBe(names.claimPolicy);
    expect(Outputs.CertificateResourceServiceToken!.Export!.Name).toBe(names.certificateResourceExport);
  });

  it('keep IoT rule names to [a-zA-Z0-9_]', () => {
    expect(namesModule.namesFor('iot-provisioner', 'pr-12.x').certificateRegisteredRule).toBe('iot_provisioner_pr_12_x_certificate_registered');
  });
});
