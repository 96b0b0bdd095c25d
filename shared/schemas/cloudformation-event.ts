import * as z from 'zod/mini';
import './zod';
import { DEVICE_ID_PATTERN } from '../registry/device-entry';

/**
 * Requests CloudFormation sends to a Lambda-backed custom resource (aws-iot-reference §7). The envelope is
 * loose: a field AWS adds never makes us drop a request, because a dropped request leaves the stack
 * waiting until `ServiceTimeout`. `PhysicalResourceId` comes with Update and Delete only, and
 * `OldResourceProperties` with Update only.
 */

const nonEmpty = z.string().check(z.minLength(1, 'required'));

/** Every request carries the template's properties, ServiceToken included. */
const resourcePropertiesSchema = z.looseObject({ ServiceToken: nonEmpty });

const envelope = {
  // Observed events carry the ServiceToken at the top level too (aws-iot-reference §7).
  ServiceToken: z.optional(z.string()),
  // A presigned S3 URL in AWS; the local IoT Core's receiver is plain http.
  ResponseURL: z.string().check(z.regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')),
  StackId: nonEmpty,
  RequestId: nonEmpty,
  LogicalResourceId: nonEmpty,
  ResourceType: z.string().check(
    z.regex(/^(Custom::[A-Za-z0-9_@-]{1,52}|AWS::CloudFormation::CustomResource)$/, 'must be Custom::<name> or AWS::CloudFormation::CustomResource'),
  ),
  ResourceProperties: resourcePropertiesSchema,
};

export const customResourceRequestSchema = z.discriminatedUnion('RequestType', [
  z.looseObject({ RequestType: z.literal('Create'), ...envelope }),
  z.looseObject({
    RequestType: z.literal('Update'),
    ...envelope,
    PhysicalResourceId: nonEmpty,
    OldResourceProperties: resourcePropertiesSchema,
  }),
  z.looseObject({ RequestType: z.literal('Delete'), ...envelope, PhysicalResourceId: nonEmpty }),
]);

export type CustomResourceRequest = z.infer<typeof customResourceRequestSchema>;
export type CreateRequest = Extract<CustomResourceRequest, { RequestType: 'Create' }>;
export type UpdateRequest = Extract<CustomResourceRequest, { RequestType: 'Update' }>;
export type DeleteRequest = Extract<CustomResourceRequest, { RequestType: 'Delete' }>;

/**
 * What a request needs for any answer at all: where to send it and what to echo. A request that fails the
 * full schema is still answered (FAILED) when these are there.
 */
export const answerableRequestSchema = z.looseObject({
  ResponseURL: envelope.ResponseURL,
  StackId: nonEmpty,
  RequestId: nonEmpty,
  LogicalResourceId: nonEmpty,
  RequestType: z.optional(z.string()),
  PhysicalResourceId: z.optional(nonEmpty),
});

export type AnswerableRequest = z.infer<typeof answerableRequestSchema>;

/**
 * The properties of `Custom::DeviceCertificate`. Strict, unlike the envelope: these are what a template
 * author wrote, and a misspelt property should fail the stack with its name rather than be ignored.
 * `ServiceTimeout` is CloudFormation's own setting and may be passed along with the others.
 */
export const deviceCertificatePropertiesSchema = z.strictObject({
  ServiceToken: nonEmpty,
  ServiceTimeout: z.optional(z.union([z.string(), z.number()])),
  /** The thing the certificate is for; its objects go under `<ThingName>/` in the certificate bucket. */
  ThingName: z.string().check(z.regex(DEVICE_ID_PATTERN, 'must be a thing name: 1-128 characters of [a-zA-Z0-9:_-]')),
});

export type DeviceCertificateProperties = z.infer<typeof deviceCertificatePropertiesSchema>;
