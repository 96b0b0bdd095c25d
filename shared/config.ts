import { z } from 'zod';
import type { ActivationSettings } from './provisioning/activate-certificate';

/**
 * Configuration, read and checked once at cold start. Nothing else reads `process.env`.
 * serverless.yml passes every stage parameter through, so an unset optional parameter arrives as ''.
 */

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

const optional = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

const caIdList = z
  .string()
  .optional()
  .transform((value) =>
    value
      ?.split(',')
      .map((id) => id.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[a-f0-9]{64}$/, 'each CA id must be 64 hex characters')).optional())
  .transform((ids) => (ids && ids.length > 0 ? ids : undefined));

const activationEnvSchema = z.object({
  DEVICE_REGISTRY_TABLE: z.string().min(3, 'required'),
  DEVICE_POLICY_NAME: z.string().min(1, 'required'),
  ALLOWED_CA_IDS: caIdList,
  ADMISSION_MODE: optional.pipe(z.enum(['allowlist', 'ca']).default('allowlist')),
  DEVICE_ID_SOURCE: optional.pipe(
    z.enum(['serialNumberOrCommonName', 'serialNumber', 'commonName']).default('serialNumberOrCommonName'),
  ),
  REJECT_ACTION: optional.pipe(z.enum(['REVOKED', 'INACTIVE']).default('REVOKED')),
  BOUND_DEVICE_POLICY: optional.pipe(z.enum(['refuse', 'replace']).default('refuse')),
  THING_GROUP: optional,
  THING_TYPE: optional,
});

function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new ConfigurationError(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

export interface ActivationConfig {
  registryTable: string;
  settings: ActivationSettings;
}

export function loadActivationConfig(env: NodeJS.ProcessEnv = process.env): ActivationConfig {
  const e = parseEnv(activationEnvSchema, env);
  return {
    registryTable: e.DEVICE_REGISTRY_TABLE,
    settings: {
      admission: {
        mode: e.ADMISSION_MODE,
        ...(e.ALLOWED_CA_IDS ? { allowedCaIds: e.ALLOWED_CA_IDS } : {}),
        deviceIdSource: e.DEVICE_ID_SOURCE,
        boundDevice: e.BOUND_DEVICE_POLICY,
      },
      devicePolicyName: e.DEVICE_POLICY_NAME,
      rejectAction: e.REJECT_ACTION,
      ...(e.THING_GROUP ? { thingGroup: e.THING_GROUP } : {}),
      ...(e.THING_TYPE ? { thingType: e.THING_TYPE } : {}),
    },
  };
}
