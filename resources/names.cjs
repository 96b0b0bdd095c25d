'use strict';
/**
 * Every name derived from the service and the stage, in one place: serverless.yml (`custom.names`), the
 * CloudFormation resources (resources/, functions/<name>/resources.cjs), the operator CLI (cli/target.ts)
 * and the local IoT Core (lib/stack.ts, local/deploy-stack.ts) all read them from here.
 *
 * serverless.yml includes it as `custom: names: ${file(./resources/names.cjs)}` and reads
 * `${self:custom.names.registryTable}`; osls calls the exported function with its variable resolver.
 */

/** The functions of serverless.yml, each with the logical id osls gives its AWS::Lambda::Function. */
const FUNCTIONS = {
  activateCertificate: 'ActivateCertificateLambdaFunction',
  preProvisioningHook: 'PreProvisioningHookLambdaFunction',
  vendProvisioningClaim: 'VendProvisioningClaimLambdaFunction',
  vendCertificate: 'VendCertificateLambdaFunction',
  retireCertificate: 'RetireCertificateLambdaFunction',
  certificateResource: 'CertificateResourceLambdaFunction',
  expirySweep: 'ExpirySweepLambdaFunction',
  // The operator console's API (issue 12).
  consoleDevices: 'ConsoleDevicesLambdaFunction',
  consoleActions: 'ConsoleActionsLambdaFunction',
  consoleQueue: 'ConsoleQueueLambdaFunction',
  // Certificate rotation (issue 14): the CSR step.
  rotateCertificate: 'RotateCertificateLambdaFunction',
  // Certificate rotation (issue 14): the commit and roll back.
  rotationEvents: 'RotationEventsLambdaFunction',
};

/** The name osls gives a function of serverless.yml: `<service>-<stage>-<name>`. */
const functionName = (service, stage, name) => `${service}-${stage}-${name}`;

/**
 * What CloudFormation names a resource that has no name property, without its random suffix
 * (`<stack>-<logicalId>-<suffix>`): the local IoT Core's name for the stack's unnamed queues and roles.
 */
const generatedName = (service, stage, logicalId) => `${service}-${stage}-${logicalId}`;

/** The names of one deployment (service, stage). Plain strings only: osls keeps the object in its configuration. */
function namesFor(service, stage) {
  const prefix = `${service}-${stage}`;
  return {
    registryTable: `${prefix}-devices`,
    ledgerTable: `${prefix}-provisioning-ledger`,
    timelineTable: `${prefix}-device-timeline`,
    retirementQueue: `${prefix}-retirements`,
    // CloudFormation names the failure queue (it has no QueueName); this is its name in the local IoT Core.
    failureQueue: `${prefix}-failures`,
    roleAlias: `${prefix}-device`,
    // The defaults of the devicePolicyName and fleetTemplateName stage parameters.
    devicePolicy: `${prefix}-device`,
    fleetTemplate: prefix,
    claimPolicy: `${prefix}-claim`,
    fleetThingGroup: `${prefix}-fleet`,
    // Suspended devices' things wait here (shared/lifecycle/actions.ts).
    quarantineThingGroup: `${prefix}-quarantine`,
    deviceThingType: `${prefix}-device`,
    // IoT rule names allow [a-zA-Z0-9_] only.
    certificateRegisteredRule: `${service}_${stage}_certificate_registered`.replace(/[^a-zA-Z0-9_]/g, '_'),
    // Certificate rotation: devices' CSRs to rotateCertificate (functions/rotate-certificate/resources.cjs).
    rotationCsrRule: `${service}_${stage}_rotation_csr`.replace(/[^a-zA-Z0-9_]/g, '_'),
    // Certificate rotation's commit and roll back (functions/rotation-events/resources.cjs).
    rotationConnectedRule: `${service}_${stage}_rotation_connected`.replace(/[^a-zA-Z0-9_]/g, '_'),
    rotationJobExecutionRule: `${service}_${stage}_rotation_job_execution`.replace(/[^a-zA-Z0-9_]/g, '_'),
    // The expiry sweep's and the Device Defender audit's findings (resources/findings.cjs, resources/audit.cjs).
    findingsTopic: `${prefix}-findings`,
    certificateAudit: `${prefix}-certificates`,
    // Observability (resources/observability.cjs): the alarms topic, the dashboard, the claim-refusals rule.
    // The metrics namespace is the same for every stage (`stage` is a dimension: shared/metrics.ts).
    metricsNamespace: 'IotProvisioner',
    alarmsTopic: `${prefix}-alarms`,
    dashboard: `${prefix}`,
    claimRefusalsRule: `${prefix}-claim-refusals`,
    userPool: `${prefix}-operators`,
    userPoolClient: `${prefix}-app`,
    prefix,
    consoleOriginAccess: `${prefix}-console-oac`,
    consoleHeaders: `${prefix}-console-headers`,
    consoleClient: `${prefix}-console`,
    // Other stacks' Custom::DeviceCertificate resources: ServiceToken: !ImportValue <this name>.
    certificateResourceExport: `${prefix}-CertificateResourceServiceToken`,
    // Certificate rotation (issue 14, resources/rotation.cjs): the job template every rotation job is created from.
    rotationJobTemplate: `${prefix}-rotation`,
    functions: Object.fromEntries(Object.keys(FUNCTIONS).map((name) => [name, functionName(service, stage, name)])),
  };
}

/**
 * For serverless.yml: the names of the deployment osls is resolving. osls' resolver answers with promises;
 * lib/stack.ts, which reads serverless.yml synchronously, answers with the values themselves.
 */
function resolveNames({ resolveVariable }) {
  const service = resolveVariable('self:service');
  const stage = resolveVariable('sls:stage');
  if (service instanceof Promise || stage instanceof Promise) {
    return Promise.all([service, stage]).then(([s, t]) => namesFor(String(s), String(t)));
  }
  return namesFor(String(service), String(stage));
}

module.exports = resolveNames;
Object.assign(module.exports, { namesFor, functionName, generatedName, FUNCTIONS });
