import * as z from 'zod/mini';
import './schemas/zod';
import type { ActivationSettings } from './provisioning/activate-certificate';

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
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new ConfigurationError(`invalid configuration: ${problems}`);
  }
  return parsed.data as z.infer<T>;
}

const trimmed = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

export interface ActivationConfig {
  registryTable: string;
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
    settings: {
      admission: {
        mode: e.ADMISSION_MODE || 'allowlist',
        ...(allowedCaIds.length ? { allowedCaIds } : {}),
        deviceIdSource: e.DEVICE_ID_SOURCE || 'serialNumberOrCommonName',
        boundDevice: e.BOUND_DEVICE_POLICY || 'refuse',
      },
      devicePolicyName: e.DEVICE_POLICY_NAME,
      rejectAction: e.REJECT_ACTION || 'REVOKED',
      ...(thingGroup ? { thingGroup } : {}),
      ...(thingType ? { thingType } : {}),
    },
  };
}
