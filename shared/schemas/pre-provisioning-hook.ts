import * as z from 'zod/mini';
import './zod';

const certificateIdSchema = z.string().check(z.regex(/^(0x)?[a-fA-F0-9]{64}$/, 'must be a 64-hex certificate id'));

/**
 * What AWS IoT sends a pre-provisioning hook for every RegisterThing request (payloadVersion 2020-04-01,
 * aws-iot-reference §3.3). `parameters` is the RegisterThing request's own `parameters` object.
 */
export const preProvisioningHookEventSchema = z.looseObject({
  claimCertificateId: certificateIdSchema,
  certificateId: certificateIdSchema,
  certificatePem: z.string().check(z.minLength(1)),
  templateArn: z.string().check(z.regex(/^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:provisioningtemplate\/[0-9A-Za-z_-]{1,36}$/, 'must be a provisioning template ARN')),
  clientId: z.string(),
  parameters: z.optional(z.record(z.string(), z.string())),
});

export type PreProvisioningHookEvent = z.infer<typeof preProvisioningHookEventSchema>;

/** The answer: provisioning continues only when `allowProvisioning` is true; overrides merge into parameters. */
export const preProvisioningHookResultSchema = z.object({
  allowProvisioning: z.boolean(),
  parameterOverrides: z.optional(z.record(z.string(), z.string())),
});

export type PreProvisioningHookResult = z.infer<typeof preProvisioningHookResultSchema>;
