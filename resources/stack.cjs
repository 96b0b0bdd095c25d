'use strict';
/**
 * The stack's CloudFormation resources, built from the stage parameters: what several functions share
 * (resources/*.cjs, one file per concern) and each function's own deployment (functions/<name>/resources.cjs:
 * its trigger, role and permissions, beside its handler).
 *
 * serverless.yml includes this file (`resources: ${file(./resources/stack.cjs)}`); osls calls the exported
 * function with its variable resolver. The local IoT Core calls `buildResources` with the same settings
 * (lib/stack.ts), so the tables, policies, topic rule, provisioning template and CA registration it creates
 * locally are these very definitions, not a copy.
 */
const { namesFor, functionName, FUNCTIONS } = require('./names.cjs');
const { IOT_ARN, IOT_SERVICE_TRUST, functionRole, bindingStatements, listAttachedPolicies } = require('./iam.cjs');
const { storageResources, STORES, privateBucket, tlsOnlyBucketPolicy } = require('./storage.cjs');
const { policyResources, devicePolicyDocument, claimPolicyDocument } = require('./policies.cjs');
const { fleetResources, fleetTemplateBody, fleetTemplateArn } = require('./fleet.cjs');
const { credentialsResources } = require('./credentials.cjs');
const { caResources } = require('./ca.cjs');
const { operatorResources } = require('./operators.cjs');
const { findingsResources, FINDINGS } = require('./findings.cjs');
const { auditResources } = require('./audit.cjs');
const { consoleResources, consoleCors } = require('./console.cjs');
const { observabilityResources } = require('./observability.cjs');
const { rotationResources, rotationSettings, ROTATION_DEFAULTS } = require('./rotation.cjs');

/** Each function's own deployment, by its name in serverless.yml (test/unit/function-resources.test.ts checks the list). */
const FUNCTION_DEPLOYMENTS = {
  activateCertificate: require('../functions/activate-certificate/resources.cjs'),
  preProvisioningHook: require('../functions/pre-provisioning-hook/resources.cjs'),
  vendProvisioningClaim: require('../functions/vend-provisioning-claim/resources.cjs'),
  vendCertificate: require('../functions/vend-certificate/resources.cjs'),
  retireCertificate: require('../functions/retire-certificate/resources.cjs'),
  certificateResource: require('../functions/certificate-resource/resources.cjs'),
  expirySweep: require('../functions/expiry-sweep/resources.cjs'),
  consoleDevices: require('../functions/console-devices/resources.cjs'),
  consoleActions: require('../functions/console-actions/resources.cjs'),
  consoleQueue: require('../functions/console-queue/resources.cjs'),
  rotateCertificate: require('../functions/rotate-certificate/resources.cjs'),
  rotationEvents: require('../functions/rotation-events/resources.cjs'),
};

const splitIds = (value) =>
  String(value || '')
    .split(',')
    .map((id) => id.trim().toLowerCase())
    .filter(Boolean);

const splitNames = (value) =>
  String(value || '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);

/** Adds `part`'s resources and outputs to `into`; two parts declaring one logical id is a mistake. */
function merge(into, part, from) {
  for (const section of ['Resources', 'Outputs']) {
    for (const [id, value] of Object.entries(part[section] ?? {})) {
      if (id in into[section]) throw new Error(`${from}: ${section}.${id} is declared twice`);
      into[section][id] = value;
    }
  }
}

/**
 * What every part is built from: the settings, the names, and the shared builders (so that functions/
 * requires nothing outside functions/ and shared/).
 * @param {import('./stack.d.cts').StackSettings} settings
 */
function stackContext(settings) {
  const { service, stage } = settings;
  return {
    settings,
    names: namesFor(service, stage),
    IOT_ARN,
    IOT_SERVICE_TRUST,
    FUNCTIONS,
    STORES,
    FINDINGS,
    functionRole: (name, statements) => functionRole(name, functionName(service, stage, name), statements),
    bindingStatements,
    listAttachedPolicies,
    fleetTemplateArn,
    privateBucket,
    tlsOnlyBucketPolicy,
  };
}

/**
 * @param {import('./stack.d.cts').StackSettings} settings
 */
function buildResources(settings) {
  for (const id of settings.caCertificateIds) {
    if (!/^[a-f0-9]{64}$/.test(id)) throw new Error(`caCertificateIds: "${id}" is not a 64-hex CA certificate id`);
  }
  const stack = stackContext(settings);
  const template = { Resources: {}, Outputs: {} };
  merge(template, storageResources(stack), 'resources/storage.cjs');
  merge(template, policyResources(stack), 'resources/policies.cjs');
  merge(template, credentialsResources(stack), 'resources/credentials.cjs');
  merge(template, fleetResources(stack), 'resources/fleet.cjs');
  merge(template, findingsResources(stack), 'resources/findings.cjs');
  merge(template, auditResources(stack), 'resources/audit.cjs');
  merge(template, consoleResources(stack), 'resources/console.cjs');
  for (const [name, deployment] of Object.entries(FUNCTION_DEPLOYMENTS)) merge(template, deployment.resources(stack), `functions/${name}/resources.cjs`);
  merge(template, caResources(stack), 'resources/ca.cjs');
  merge(template, observabilityResources(stack), 'resources/observability.cjs');
  merge(template, rotationResources(stack), 'resources/rotation.cjs');
  // Properties of resources osls generates itself (the HTTP API): its CORS for the console.
  template.extensions = { HttpApi: { Properties: { CorsConfiguration: consoleCors(settings) } } };
  // Last: the console client's callback URLs follow from the console's distribution, when the template has one.
  merge(template, operatorResources(stack, { hasConsoleDistribution: 'ConsoleDistribution' in template.Resources }), 'resources/operators.cjs');
  return template;
}

/** The audit's stage parameters: 'true' turns it on; the thresholds are whole days ('' = the sweep's defaults). */
function auditSettings({ deviceDefenderAudit, expiryWarningDays, certificateMaxAgeDays }) {
  const days = (name, value, fallback) => {
    const text = String(value ?? '').trim();
    if (text === '') return fallback;
    if (!/^\d{1,5}$/.test(text)) throw new Error(`${name}: "${text}" is not a whole number of days`);
    return Number(text);
  };
  const flag = String(deviceDefenderAudit ?? '').trim().toLowerCase();
  if (!['', 'true', 'false'].includes(flag)) throw new Error(`deviceDefenderAudit: "${deviceDefenderAudit}" is neither true nor false`);
  return {
    deviceDefenderAudit: flag === 'true',
    expiryWarningDays: days('expiryWarningDays', expiryWarningDays, 30),
    certificateMaxAgeDays: days('certificateMaxAgeDays', certificateMaxAgeDays, 365),
  };
}

/** The console's sign-in stage parameters (resources/operators.cjs checks them): '' = the default. */
function consoleSettings({ consoleMfa, consoleUrl, consoleSignInDomainPrefix }) {
  const text = (value) => String(value ?? '').trim();
  return {
    ...(text(consoleMfa) ? { consoleMfa: text(consoleMfa) } : {}),
    ...(text(consoleUrl) ? { consoleUrl: text(consoleUrl) } : {}),
    ...(text(consoleSignInDomainPrefix) ? { consoleSignInDomainPrefix: text(consoleSignInDomainPrefix) } : {}),
  };
}

/** Reads the stage parameters through osls' resolver (files are read relative to the service directory). */
async function resolveStack({ resolveVariable }) {
  const fs = require('node:fs');
  const path = require('node:path');
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}`);
    return value == null ? '' : String(value).trim();
  };
  const readOptional = (file) => (file ? fs.readFileSync(path.resolve(process.cwd(), file), 'utf8') : undefined);
  return buildResources({
    service: await resolveVariable('self:service'),
    stage: await resolveVariable('sls:stage'),
    devicePolicyName: await param('devicePolicyName'),
    caCertificateIds: splitIds(await param('caCertificateIds')),
    caCertificatePem: readOptional(await param('caCertificateFile')),
    caCertificateMode: (await param('caCertificateMode')) || 'SNI_ONLY',
    verificationCertificatePem: readOptional(await param('verificationCertificateFile')),
    fleetTemplateName: await param('fleetTemplateName'),
    fleetThingAttributes: splitNames(await param('fleetThingAttributes')),
    alarmEmail: await param('alarmEmail'),
    ...auditSettings({ deviceDefenderAudit: await param('deviceDefenderAudit'), expiryWarningDays: await param('expiryWarningDays'), certificateMaxAgeDays: await param('certificateMaxAgeDays') }),
    ...consoleSettings({ consoleMfa: await param('consoleMfa'), consoleUrl: await param('consoleUrl'), consoleSignInDomainPrefix: await param('consoleSignInDomainPrefix') }),
    ...rotationSettings(Object.fromEntries(await Promise.all(Object.keys(ROTATION_DEFAULTS).map(async (name) => [name, await param(name)])))),
  });
}

module.exports = resolveStack;
Object.assign(module.exports, {
  buildResources,
  stackContext,
  splitIds,
  splitNames,
  auditSettings,
  consoleSettings,
  rotationSettings,
  FUNCTION_DEPLOYMENTS,
  // Re-exported for the tests that read them here (their modules: resources/policies.cjs, resources/fleet.cjs).
  devicePolicyDocument,
  claimPolicyDocument,
  fleetTemplateBody,
});
