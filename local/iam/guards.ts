import type { IncomingMessage } from 'node:http';
import { IotError } from '../iot-core/errors';
import type { DynamoDbRefusal } from '../dynamodb';
import type { S3Refusal } from '../s3/local-s3';
import type { SqsRefusal } from '../sqs/local-sqs';
import { accessKeyIdOf, accountOfAccessKey } from './access-keys';
import { iotAuthorization } from './iot-actions';
import { accessDeniedMessage, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE, type IamDecision, type LocalIam } from './local-iam';
import { authorizeAll, dynamoDbChecks, s3Checks, sqsChecks } from './service-checks';

/**
 * Each local service's IAM check, and its refusal as that service answers it on AWS:
 * - AWS IoT (REST-JSON): 403 `AccessDeniedException` / 403 `UnrecognizedClientException` (the errors common
 *   to all AWS APIs: https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html);
 * - DynamoDB (JSON 1.0): 400 `AccessDeniedException` / 400 `UnrecognizedClientException` ("Error handling with
 *   DynamoDB": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html);
 * - SQS (JSON protocol, query-compatible): 403 with `x-amzn-query-error: AccessDenied;Sender` — the SDK and CLI
 *   name the error `AccessDenied` (aws/serverless-application-model#3633) — and `InvalidClientTokenId` for an
 *   unknown key (the common errors above). The JSON body's `__type` is an assumption (not documented);
 * - S3 (REST-XML): 403 `AccessDenied`, the resource quoted in the message
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html), and 403
 *   `InvalidAccessKeyId` for an unknown key (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
 */

type Denied = Extract<IamDecision, { kind: 'denied' }>;

/** The control plane's check (ControlPlaneOptions.authorize). */
export function iotAuthorizer(iam: LocalIam, region: string) {
  return async (call: { authorization: string | undefined; operation: string; accountId: string; path: Record<string, string>; headers: IncomingMessage['headers']; body: Record<string, unknown> }): Promise<IotError | undefined> => {
    const accessKeyId = accessKeyIdOf(call.authorization);
    if (accessKeyId === undefined || !accessKeyId.startsWith('ASIA')) return undefined;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const header = (name: string) => text(call.headers[name]);
    const { action, resources } = await iotAuthorization(call.operation, {
      region,
      accountId: call.accountId,
      path: call.path,
      fields: {
        thingName: text(call.body.thingName),
        thingArn: text(call.body.thingArn),
        thingGroupName: text(call.body.thingGroupName),
        thingGroupArn: text(call.body.thingGroupArn),
        thingTypeName: text(call.body.thingTypeName),
        billingGroupName: text(call.body.billingGroupName),
        target: text(call.body.target),
        jobTemplateArn: text(call.body.jobTemplateArn),
        principal: header('x-amzn-principal') ?? header('x-amzn-iot-principal'),
      },
    });
    const decision = await iam.authorize(accessKeyId, action, resources);
    if (decision.kind === 'unknown-key') return new IotError('UnrecognizedClientException', INVALID_TOKEN_MESSAGE);
    if (decision.kind === 'expired') return new IotError('ExpiredTokenException', EXPIRED_TOKEN_MESSAGE);
    if (decision.kind === 'denied') return new IotError('AccessDeniedException', accessDeniedMessage(decision));
    return undefined;
  };
}

/**
 * The data plane's check (DataPlaneServer's `authorize`): the message of the 403 ForbiddenException it
 * answers, or nothing when allowed. Each operation is its own action of the `iot` prefix on the resource the
 * Service Authorization Reference gives it (iot:Publish and iot:GetRetainedMessage on the topic, the shadow
 * actions and iot:ListNamedShadowsForThing on the thing — a named shadow on `thing/<thing>/<shadow>` —,
 * iot:ListRetainedMessages on `*`); a retained publish needs iot:RetainPublish on the topic as well
 * ("Retained message policy examples": https://docs.aws.amazon.com/iot/latest/developerguide/retained-message-policy-examples.html).
 * AWS's iot-data answers a denied call 403 ForbiddenException "Forbidden" (boto/boto3#1447,
 * aws/aws-sdk-js-v3#5562) and an unknown security token 403 ForbiddenException "The security token
 * included in the request is invalid." (aws/aws-iot-device-sdk-js#146); an expired one the same way with
 * the expiry text (an assumption by analogy).
 */
export function iotDataAuthorizer(iam: LocalIam, region: string) {
  return async (call: { authorization: string | undefined; operation: string; accountId: string; path: Record<string, string>; query: URLSearchParams }): Promise<{ message: string } | undefined> => {
    const accessKeyId = accessKeyIdOf(call.authorization);
    if (accessKeyId === undefined || !accessKeyId.startsWith('ASIA')) return undefined;
    const shadowName = call.query.get('name') ?? undefined;
    const names = { region, accountId: call.accountId, path: call.path, fields: { shadowName } };
    const operations = [call.operation, ...(call.operation === 'Publish' && call.query.get('retain') === 'true' ? ['RetainPublish'] : [])];
    for (const operation of operations) {
      const { action, resources } = await iotAuthorization(operation, names);
      const decision = await iam.authorize(accessKeyId, action, resources);
      if (decision.kind === 'unknown-key') return { message: INVALID_TOKEN_MESSAGE };
      if (decision.kind === 'expired') return { message: EXPIRED_TOKEN_MESSAGE };
      if (decision.kind === 'denied') return { message: 'Forbidden' };
    }
    return undefined;
  };
}

/** DynamoDB's check (startDynamoDb's `authorize`). */
export function dynamoDbAuthorizer(iam: LocalIam, region: string) {
  const refusal = (type: string, message: string): DynamoDbRefusal => ({ status: 400, body: { __type: `com.amazon.coral.service#${type}`, message } });
  return async (request: IncomingMessage, body: Buffer): Promise<DynamoDbRefusal | undefined> => {
    const accessKeyId = accessKeyIdOf(request.headers.authorization);
    if (accessKeyId === undefined || !accessKeyId.startsWith('ASIA')) return undefined;
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.split('.')[1] ?? '';
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      // dynalite answers a body that is not JSON (SerializationException); IAM has nothing to decide on.
      return undefined;
    }
    const decision = await authorizeAll(iam, accessKeyId, dynamoDbChecks(operation, input, region, accountOfAccessKey(accessKeyId) ?? ''));
    if (decision.kind === 'unknown-key') return refusal('UnrecognizedClientException', INVALID_TOKEN_MESSAGE);
    if (decision.kind === 'expired') return refusal('ExpiredTokenException', EXPIRED_TOKEN_MESSAGE);
    if (decision.kind === 'denied') return refusal('AccessDeniedException', accessDeniedMessage(decision));
    return undefined;
  };
}

/** SQS's check (LocalSqs's `authorize`). */
export function sqsAuthorizer(iam: LocalIam, region: string) {
  return async (operation: string, input: Record<string, unknown>, authorization: string | undefined): Promise<SqsRefusal | undefined> => {
    const accessKeyId = accessKeyIdOf(authorization);
    if (accessKeyId === undefined || !accessKeyId.startsWith('ASIA')) return undefined;
    const decision = await authorizeAll(iam, accessKeyId, sqsChecks(operation, input, region, accountOfAccessKey(accessKeyId) ?? ''));
    if (decision.kind === 'unknown-key') {
      return { status: 403, type: 'com.amazon.coral.service#InvalidClientTokenId', queryCode: 'InvalidClientTokenId', message: INVALID_TOKEN_MESSAGE };
    }
    if (decision.kind === 'expired') {
      return { status: 403, type: 'com.amazon.coral.service#ExpiredTokenException', queryCode: 'ExpiredToken', message: EXPIRED_TOKEN_MESSAGE };
    }
    if (decision.kind === 'denied') {
      return { status: 403, type: 'com.amazon.coral.service#AccessDeniedException', queryCode: 'AccessDenied', message: accessDeniedMessage(decision, { lowerCaseAction: true }) };
    }
    return undefined;
  };
}

/** S3's check (LocalS3's `authorize`). Presigned URLs carry the key in X-Amz-Credential. */
export function s3Authorizer(iam: LocalIam) {
  return async (request: IncomingMessage): Promise<S3Refusal | undefined> => {
    const presigned = /[?&]X-Amz-Credential=([^&]+)/.exec(request.url ?? '')?.[1];
    const accessKeyId = accessKeyIdOf(request.headers.authorization) ?? (presigned ? decodeURIComponent(presigned).split('/')[0] : undefined);
    if (accessKeyId === undefined || !accessKeyId.startsWith('ASIA')) return undefined;
    const decision = await authorizeAll(iam, accessKeyId, s3Checks(request.method ?? 'GET', request.url ?? '/', request.headers));
    if (decision.kind === 'unknown-key') {
      return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
    }
    if (decision.kind === 'expired') return { status: 400, code: 'ExpiredToken', message: 'The provided token has expired.' };
    if (decision.kind === 'denied') return { status: 403, code: 'AccessDenied', message: accessDeniedMessage(decision as Denied, { quoteResource: true }) };
    return undefined;
  };
}
