import * as z from 'zod/mini';
import './schemas/zod';
import { issuesOf, issuesText } from './schemas/issues';
import { STALE_CLAIM_MS } from './admission/admit-device';
import type { ActivationSettings } from './provisioning/activate-certificate';
import type { HookSettings } from './provisioning/pre-provisioning';
import type { VendSettings } from './provisioning/vend-certificate';
import type { SweepPolicy } from './expiry/sweep';

/**
 * Configuration, read and checked once at cold start. Nothing else reads `process.env`.
 * serverless.yml passes every stage parameter through, so an unset optional parameter arrives as ''.
 */

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/** An optional setting from a fixed list; '' (an unset stage parameter) means the default. */
const choice = <const T extends readonly [string, ...string[]]>(values: T) => z.optional(z.union([z.literal(''), z.enum(values)]));

const activationEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  PROVISIONING_LEDGER_TABLE: z.string().check(z.minLength(3, 'required')),
  /** The device timeline (resources/storage.cjs); unset, decisions go to the registry entry only. */
  DEVICE_TIMELINE_TABLE: z.optional(z.string().check(z.minLength(3, 'a table name'))),
  DEVICE_POLICY_NAME: z.string().check(z.minLength(1, 'required')),
  ALLOWED_CA_IDS: z.optional(
    z.string().check(z.regex(/^\s*([a-fA-F0-9]{64}\s*(,\s*[a-fA-F0-9]{64}\s*)*)?,?\s*$/, 'a comma-separated list of 64-hex CA certificate ids')),
  ),
  ADMISSION_MODE: choice(['allowlist', 'ca']),
  DEVICE_ID_SOURCE: choice(['serialNumberOrCommonName', 'serialNumber', 'commonName']),
  REJECT_ACTION: choice(['REVOKED', 'INACTIVE']),
  BOUND_DEVICE_POLICY: choice(['refuse', 'replace']),
  THING_GROUP: z.optional(z.string()),
  THING_TYPE: z.optional(z.string()),
});

function parseEnv<T extends z.ZodMiniType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = issuesText(issuesOf(parsed.error));
    throw new ConfigurationError(`invalid configuration: ${problems}`);
  }
  return parsed.data as z.infer<T>;
}

const trimmed = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

export interface ActivationConfig {
  registryTable: string;
  /** Where activation leases are kept (the provisioning ledger). */
  ledgerTable: string;
  timelineTable?: string;
  settings: ActivationSettings;
}

export function loadActivationConfig(env: NodeJS.ProcessEnv = process.env): ActivationConfig {
  const e = parseEnv(activationEnvSchema, env);
  const allowedCaIds = (e.ALLOWED_CA_IDS ?? '')
    .split(',')
    .map((id) => id.trim().toLowerCase())
    .filter(Boolean);
  const thingGroup = trimmed(e.THING_GROUP);
  const thingType = trimmed(e.THING_TYPE);
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    ledgerTable: e.PROVISIONING_LEDGER_TABLE,
    ...(e.DEVICE_TIMELINE_TABLE ? { timelineTable: e.DEVICE_TIMELINE_TABLE } : {}),
    settings: {
      admission: {
        mode: e.ADMISSION_MODE || 'allowlist',
        ...(allowedCaIds.length ? { allowedCaIds } : {}),
        deviceIdSource: e.DEVICE_ID_SOURCE || 'serialNumberOrCommonName',
        boundDevice: e.BOUND_DEVICE_POLICY || 'refuse',
      },
      devicePolicyName: e.DEVICE_POLICY_NAME,
      rejectAction: e.REJECT_ACTION || 'REVOKED',
      staleClaimMs: STALE_CLAIM_MS,
      ...(thingGroup ? { thingGroup } : {}),
      ...(thingType ? { thingType } : {}),
    },
  };
}

const templateName = z.string().check(z.regex(/^[0-9A-Za-z_-]{1,36}$/, 'a provisioning template name (1-36 of [0-9A-Za-z_-])'));
// '' (an unset stage parameter) means the default.
const wholeNumber = z.optional(z.string().check(z.regex(/^\d*$/, 'a whole number')));

const hookEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  PROVISIONING_LEDGER_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_TIMELINE_TABLE: z.optional(z.string().check(z.minLength(3, 'a table name'))),
  FLEET_TEMPLATE_NAME: templateName,
  FLEET_THING_GROUP: z.string().check(z.minLength(1, 'required')),
  FLEET_THING_TYPE: z.string().check(z.minLength(1, 'required')),
  FLEET_THING_ATTRIBUTES: z.optional(z.string().check(z.regex(/^[a-zA-Z0-9_-]*(,[a-zA-Z0-9_-]+)*$/, 'a comma-separated list of attribute names'))),
  ADMISSION_MODE: choice(['allowlist', 'ca']),
  REQUIRE_ISSUED_CLAIM: choice(['true', 'false']),
  HOOK_DEADLINE_MS: wholeNumber,
  STALE_CLAIM_SECONDS: wholeNumber,
});

export interface HookConfig {
  registryTable: string;
  ledgerTable: string;
  timelineTable?: string;
  settings: HookSettings;
}

export function loadHookConfig(env: NodeJS.ProcessEnv = process.env): HookConfig {
  const e = parseEnv(hookEnvSchema, env);
  // AWS allows the hook 5 s in all (aws-iot-reference §3.3); cold start and the call itself take part of it.
  const deadlineMs = Number(e.HOOK_DEADLINE_MS || 3000);
  if (deadlineMs < 100 || deadlineMs > 4500) throw new ConfigurationError('invalid configuration: HOOK_DEADLINE_MS: must be 100-4500');
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    ledgerTable: e.PROVISIONING_LEDGER_TABLE,
    ...(e.DEVICE_TIMELINE_TABLE ? { timelineTable: e.DEVICE_TIMELINE_TABLE } : {}),
    settings: {
      templateName: e.FLEET_TEMPLATE_NAME,
      mode: e.ADMISSION_MODE || 'allowlist',
      requireIssuedClaim: e.REQUIRE_ISSUED_CLAIM === 'true',
      thingGroup: e.FLEET_THING_GROUP,
      thingType: e.FLEET_THING_TYPE,
      attributeNames: (e.FLEET_THING_ATTRIBUTES ?? '').split(',').filter(Boolean),
      deadlineMs,
      staleClaimMs: e.STALE_CLAIM_SECONDS ? Number(e.STALE_CLAIM_SECONDS) * 1000 : STALE_CLAIM_MS,
    },
  };
}

const claimVendingEnvSchema = z.object({
  PROVISIONING_LEDGER_TABLE: z.string().check(z.minLength(3, 'required')),
  FLEET_TEMPLATE_NAME: templateName,
});

export interface ClaimVendingConfig {
  ledgerTable: string;
  templateName: string;
}

export function loadClaimVendingConfig(env: NodeJS.ProcessEnv = process.env): ClaimVendingConfig {
  const e = parseEnv(claimVendingEnvSchema, env);
  return { ledgerTable: e.PROVISIONING_LEDGER_TABLE, templateName: e.FLEET_TEMPLATE_NAME };
}

const vendingEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  PROVISIONING_LEDGER_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_TIMELINE_TABLE: z.optional(z.string().check(z.minLength(3, 'a table name'))),
  DEVICE_POLICY_NAME: z.string().check(z.minLength(1, 'required')),
  RETIREMENT_QUEUE_NAME: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,80}$/, 'an SQS queue name')),
  ROLE_ALIAS: z.string().check(z.minLength(1, 'required')),
  ADMISSION_MODE: choice(['allowlist', 'ca']),
  DEVICE_ID_SOURCE: choice(['serialNumberOrCommonName', 'serialNumber', 'commonName']),
  RETIRE_GRACE_SECONDS: wholeNumber,
  THING_GROUP: z.optional(z.string()),
  THING_TYPE: z.optional(z.string()),
  ROOT_CA_URL: z.optional(z.string()),
});

export interface VendingConfig {
  registryTable: string;
  ledgerTable: string;
  timelineTable?: string;
  retirementQueueName: string;
  settings: VendSettings;
}

export function loadVendingConfig(env: NodeJS.ProcessEnv = process.env): VendingConfig {
  const e = parseEnv(vendingEnvSchema, env);
  const grace = Number(e.RETIRE_GRACE_SECONDS || 300);
  // SQS delays messages by at most 15 minutes.
  if (grace > 900) throw new ConfigurationError('invalid configuration: RETIRE_GRACE_SECONDS: at most 900');
  const thingGroup = trimmed(e.THING_GROUP);
  const thingType = trimmed(e.THING_TYPE);
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    ledgerTable: e.PROVISIONING_LEDGER_TABLE,
    retirementQueueName: e.RETIREMENT_QUEUE_NAME,
    ...(e.DEVICE_TIMELINE_TABLE ? { timelineTable: e.DEVICE_TIMELINE_TABLE } : {}),
    settings: {
      devicePolicyName: e.DEVICE_POLICY_NAME,
      mode: e.ADMISSION_MODE || 'allowlist',
      deviceIdSource: e.DEVICE_ID_SOURCE || 'serialNumberOrCommonName',
      retireGraceSeconds: grace,
      roleAlias: e.ROLE_ALIAS,
      rootCaUrl: trimmed(e.ROOT_CA_URL) ?? 'https://www.amazontrust.com/repository/AmazonRootCA1.pem',
      ...(thingGroup ? { thingGroup } : {}),
      ...(thingType ? { thingType } : {}),
    },
  };
}

const retirementEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  /** The retireDelete stage parameter: 'true' deletes a retired certificate after INACTIVE ('' or 'false': keep it). */
  RETIRE_DELETE: choice(['true', 'false']),
  /** The device policy detached before a deletion (needed only with RETIRE_DELETE=true). */
  DEVICE_POLICY_NAME: z.optional(z.string()),
});

export interface RetirementConfig {
  registryTable: string;
  /** Set with RETIRE_DELETE=true: retired certificates are deleted, after this policy is detached. */
  deletion?: { policyName: string };
}

export function loadRetirementConfig(env: NodeJS.ProcessEnv = process.env): RetirementConfig {
  const e = parseEnv(retirementEnvSchema, env);
  if (e.RETIRE_DELETE !== 'true') return { registryTable: e.DEVICE_REGISTRY_TABLE };
  const policyName = trimmed(e.DEVICE_POLICY_NAME);
  if (!policyName) throw new ConfigurationError('invalid configuration: DEVICE_POLICY_NAME: required with RETIRE_DELETE=true');
  return { registryTable: e.DEVICE_REGISTRY_TABLE, deletion: { policyName } };
}

// S3 bucket names (general purpose): 3-63 of lower-case letters, digits, dots and hyphens.
const certificateResourceEnvSchema = z.object({
  CERTIFICATE_BUCKET: z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')),
  // Set by the local IoT Core next to AWS_ENDPOINT_URL_S3; AWS itself wants virtual-hosted style.
  S3_FORCE_PATH_STYLE: choice(['true', 'false']),
});

export interface CertificateResourceConfig {
  bucket: string;
  forcePathStyle: boolean;
}

export function loadCertificateResourceConfig(env: NodeJS.ProcessEnv = process.env): CertificateResourceConfig {
  const e = parseEnv(certificateResourceEnvSchema, env);
  return { bucket: e.CERTIFICATE_BUCKET, forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true' };
}

const days = (name: string) => z.optional(z.string().check(z.regex(/^\s*\d{0,5}\s*$/, `${name}: a whole number of days (0 turns the check off)`)));

const expirySweepEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_TIMELINE_TABLE: z.string().check(z.minLength(3, 'required')),
  FINDINGS_TOPIC_ARN: z.string().check(z.regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'an SNS topic ARN')),
  EXPIRY_WARNING_DAYS: days('EXPIRY_WARNING_DAYS'),
  CERTIFICATE_MAX_AGE_DAYS: days('CERTIFICATE_MAX_AGE_DAYS'),
  // Auto-rotation (issue 14): the autoRotation stage parameter and the stack's rotation job template.
  AUTO_ROTATION: choice(['true', 'false']),
  ROTATION_JOB_TEMPLATE_ARN: z.optional(z.string().check(z.regex(/^(arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:jobtemplate\/[a-zA-Z0-9_-]{1,64})?$/, 'a job template ARN'))),
});

export interface ExpirySweepConfig {
  registryTable: string;
  timelineTable: string;
  findingsTopicArn: string;
  policy: SweepPolicy;
  /** Set when the autoRotation stage parameter is 'true': each sweep starts one rotation job for its due devices. */
  autoRotation?: { jobTemplateArn: string };
}

/** Unset (''): 30 days of warning before notAfter, and 365 days of age (AWS-issued certificates never expire before 2049). */
export function loadExpirySweepConfig(env: NodeJS.ProcessEnv = process.env): ExpirySweepConfig {
  const e = parseEnv(expirySweepEnvSchema, env);
  const daysOf = (value: string | undefined, fallback: number) => (value?.trim() ? Number(value.trim()) : fallback);
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    timelineTable: e.DEVICE_TIMELINE_TABLE,
    findingsTopicArn: e.FINDINGS_TOPIC_ARN,
    policy: { expiringWithinDays: daysOf(e.EXPIRY_WARNING_DAYS, 30), olderThanDays: daysOf(e.CERTIFICATE_MAX_AGE_DAYS, 365) },
    ...autoRotationOf(e.AUTO_ROTATION, e.ROTATION_JOB_TEMPLATE_ARN),
  };
}

function autoRotationOf(flag: string | undefined, jobTemplateArn: string | undefined): Pick<ExpirySweepConfig, 'autoRotation'> {
  if (flag !== 'true') return {};
  if (!jobTemplateArn) throw new Error('invalid configuration: AUTO_ROTATION is true but ROTATION_JOB_TEMPLATE_ARN is not set');
  return { autoRotation: { jobTemplateArn } };
}

// CloudWatch namespaces: 1-255 of letters, digits and . - _ / # : (no leading colon); dimension values non-empty.
const metricsEnvSchema = z.object({
  POWERTOOLS_METRICS_NAMESPACE: z.optional(z.string().check(z.regex(/^([A-Za-z0-9._\-/#][A-Za-z0-9._\-/#:]{0,254})?$/, 'a CloudWatch namespace'))),
  POWERTOOLS_SERVICE_NAME: z.optional(z.string()),
  STAGE: z.optional(z.string().check(z.regex(/^[A-Za-z0-9-]{0,64}$/, 'a stage name'))),
});

export interface MetricsConfig {
  namespace: string;
  service: string;
  stage: string;
}

/** Every function's metrics (shared/metrics.ts): namespace `IotProvisioner` unless set, `service` and `stage` as default dimensions. */
export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  const e = parseEnv(metricsEnvSchema, env);
  return {
    namespace: trimmed(e.POWERTOOLS_METRICS_NAMESPACE) ?? 'IotProvisioner',
    service: trimmed(e.POWERTOOLS_SERVICE_NAME) ?? 'iot-provisioner',
    stage: trimmed(e.STAGE) ?? 'local',
  };
}

const tableName = z.string().check(z.minLength(3, 'required'));
const queueUrl = z.string().check(z.regex(/^https?:\/\/\S+\/\d{12}\/[A-Za-z0-9_-]{1,80}$/, 'an SQS queue URL'));

const consoleReadEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: tableName,
  DEVICE_TIMELINE_TABLE: tableName,
  FAILURE_QUEUE_URL: queueUrl,
  DEVICE_POLICY_NAME: z.string().check(z.minLength(1, 'required')),
});

export interface ConsoleReadConfig {
  registryTable: string;
  timelineTable: string;
  failureQueueUrl: string;
  devicePolicyName: string;
}

/** The console's read routes (functions/console-devices). */
export function loadConsoleReadConfig(env: NodeJS.ProcessEnv = process.env): ConsoleReadConfig {
  const e = parseEnv(consoleReadEnvSchema, env);
  return { registryTable: e.DEVICE_REGISTRY_TABLE, timelineTable: e.DEVICE_TIMELINE_TABLE, failureQueueUrl: e.FAILURE_QUEUE_URL, devicePolicyName: e.DEVICE_POLICY_NAME };
}

const consoleActionsEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: tableName,
  DEVICE_TIMELINE_TABLE: tableName,
  QUARANTINE_THING_GROUP: z.string().check(z.regex(/^[a-zA-Z0-9:_-]{1,128}$/, 'a thing group name')),
});

export interface ConsoleActionsConfig {
  registryTable: string;
  timelineTable: string;
  quarantineGroup: string;
}

/** The console's write routes (functions/console-actions). */
export function loadConsoleActionsConfig(env: NodeJS.ProcessEnv = process.env): ConsoleActionsConfig {
  const e = parseEnv(consoleActionsEnvSchema, env);
  return { registryTable: e.DEVICE_REGISTRY_TABLE, timelineTable: e.DEVICE_TIMELINE_TABLE, quarantineGroup: e.QUARANTINE_THING_GROUP };
}

const functionNames = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64})*$/, 'a comma-separated list of function names'));

const consoleQueueEnvSchema = z.object({
  FAILURE_QUEUE_URL: queueUrl,
  REDRIVE_FUNCTIONS: functionNames,
  /** `<rule name>=<function name>` for each topic rule of the stack, comma-separated. */
  RULE_FUNCTIONS: z.string().check(z.regex(/^[A-Za-z0-9_]{1,128}=[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_]{1,128}=[A-Za-z0-9_-]{1,64})*$/, 'a comma-separated list of <rule name>=<function name>')),
  RETIREMENT_QUEUE_ARN: z.string().check(z.regex(/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$/, 'an SQS queue ARN')),
  RETIREMENT_QUEUE_URL: queueUrl,
});

export interface ConsoleQueueConfig {
  failureQueueUrl: string;
  redriveFunctions: string[];
  ruleFunctions: Record<string, string>;
  retirementQueue: { arn: string; url: string };
}

/** The console's failure-queue routes (functions/console-queue). */
export function loadConsoleQueueConfig(env: NodeJS.ProcessEnv = process.env): ConsoleQueueConfig {
  const e = parseEnv(consoleQueueEnvSchema, env);
  return {
    failureQueueUrl: e.FAILURE_QUEUE_URL,
    redriveFunctions: e.REDRIVE_FUNCTIONS.split(','),
    ruleFunctions: Object.fromEntries(e.RULE_FUNCTIONS.split(',').map((pair) => pair.split('=') as [string, string])),
    retirementQueue: { arn: e.RETIREMENT_QUEUE_ARN, url: e.RETIREMENT_QUEUE_URL },
  };
}

const rotationIssueEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_TIMELINE_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_POLICY_NAME: z.string().check(z.minLength(1, 'required')),
  /**
   * The SDK's own variable for the iot-data endpoint (the local IoT Core sets it): when set the client uses
   * it, otherwise the function asks DescribeEndpoint for the account's `iot:Data-ATS` endpoint once.
   */
  AWS_ENDPOINT_URL_IOT_DATA_PLANE: z.optional(z.string()),
});

export interface RotationIssueConfig {
  registryTable: string;
  timelineTable: string;
  devicePolicyName: string;
  /** Whether the iot-data endpoint comes from the SDK's environment (no DescribeEndpoint needed). */
  dataEndpointFromEnvironment: boolean;
}

/** rotateCertificate (the rotation's CSR step, shared/rotation/issue.ts). */
export function loadRotationIssueConfig(env: NodeJS.ProcessEnv = process.env): RotationIssueConfig {
  const e = parseEnv(rotationIssueEnvSchema, env);
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    timelineTable: e.DEVICE_TIMELINE_TABLE,
    devicePolicyName: e.DEVICE_POLICY_NAME,
    dataEndpointFromEnvironment: Boolean(trimmed(e.AWS_ENDPOINT_URL_IOT_DATA_PLANE)),
  };
}

const rotationEventsEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().check(z.minLength(3, 'required')),
  DEVICE_TIMELINE_TABLE: z.optional(z.string().check(z.minLength(3, 'a table name'))),
  RETIREMENT_QUEUE_NAME: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,80}$/, 'an SQS queue name')),
  RETIRE_GRACE_SECONDS: wholeNumber,
});

export interface RotationEventsConfig {
  registryTable: string;
  timelineTable?: string;
  retirementQueueName: string;
  retireGraceSeconds: number;
}

/** The rotation's commit and roll back (functions/rotation-events). */
export function loadRotationEventsConfig(env: NodeJS.ProcessEnv = process.env): RotationEventsConfig {
  const e = parseEnv(rotationEventsEnvSchema, env);
  const grace = Number(e.RETIRE_GRACE_SECONDS || 300);
  // SQS delays messages by at most 15 minutes.
  if (grace > 900) throw new ConfigurationError('invalid configuration: RETIRE_GRACE_SECONDS: at most 900');
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    ...(e.DEVICE_TIMELINE_TABLE ? { timelineTable: e.DEVICE_TIMELINE_TABLE } : {}),
    retirementQueueName: e.RETIREMENT_QUEUE_NAME,
    retireGraceSeconds: grace,
  };
}
