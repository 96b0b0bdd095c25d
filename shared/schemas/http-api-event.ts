import * as z from 'zod/mini';
import './zod';

/**
 * API Gateway HTTP API events, payload format 2.0. Behind a JWT authorizer the verified token's claims
 * arrive in `requestContext.authorizer.jwt.claims`; behind IAM authorization the caller is in
 * `requestContext.authorizer.iam`. Unknown keys are tolerated.
 */
const claimValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);

export const httpApiEventSchema = z.looseObject({
  version: z.literal('2.0'),
  routeKey: z.string(),
  rawPath: z.string(),
  headers: z.optional(z.record(z.string(), z.string())),
  pathParameters: z.optional(z.record(z.string(), z.string())),
  queryStringParameters: z.optional(z.record(z.string(), z.string())),
  body: z.optional(z.string()),
  isBase64Encoded: z.optional(z.boolean()),
  requestContext: z.looseObject({
    requestId: z.string(),
    http: z.looseObject({ method: z.string(), path: z.string(), sourceIp: z.optional(z.string()) }),
    authorizer: z.optional(
      z.looseObject({
        jwt: z.optional(z.looseObject({ claims: z.record(z.string(), claimValue), scopes: z.optional(z.nullable(z.array(z.string()))) })),
        iam: z.optional(z.looseObject({ accessKey: z.optional(z.string()), accountId: z.optional(z.string()), userArn: z.optional(z.string()) })),
      }),
    ),
  }),
});

export type HttpApiEvent = z.infer<typeof httpApiEventSchema>;
