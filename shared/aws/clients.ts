import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * SDK clients, built once per container. Endpoints come from the SDK's own environment variables
 * (`AWS_ENDPOINT_URL_IOT`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_LAMBDA`), which is how the local
 * IoT Core is reached.
 *
 * Adaptive retries absorb throttling (IoT control-plane TPS quotas are low, aws-iot-reference §5); what
 * still fails is thrown so that Lambda retries the whole, idempotent, invocation. Bounded timeouts mean an
 * unreachable endpoint fails in seconds instead of hanging until the Lambda timeout.
 */
export interface ClientOptions {
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Fixed credentials instead of the default chain (the local harness signs each account's calls with its key). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const DEFAULTS: Required<Omit<ClientOptions, 'credentials'>> = { maxAttempts: 6, connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 };

const settings = (options: ClientOptions) => {
  const o = { ...DEFAULTS, ...options };
  return {
    ...(o.credentials ? { credentials: o.credentials } : {}),
    retryMode: 'adaptive' as const,
    maxAttempts: o.maxAttempts,
    // requestTimeout only warns (the SDK's default, throwOnRequestTimeout unset): the hook's deadline and the
    // Lambda timeout bound the wait. Throwing re-sends requests that a slow endpoint is still answering — tried:
    // 121 vends at once against the local IoT Core then failed with timeouts where they succeed without.
    requestHandler: { connectionTimeout: o.connectionTimeoutMs, requestTimeout: o.requestTimeoutMs },
  };
};

export class EndpointUnreachableError extends Error {
  override name = 'EndpointUnreachableError';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

type Next = (args: any) => Promise<any>;
/** What the IoT, DynamoDB, S3 and SQS clients share (their own stack types do not unite): an initialize-step middleware. */
interface WithMiddleware {
  middlewareStack: { add(middleware: (next: Next) => Next, options: { step: 'initialize'; name: string }): void };
}

/** After the SDK's retries, names the service and endpoint variable instead of a bare socket error. */
function explainNetworkErrors(client: WithMiddleware, service: string, variable: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code && NETWORK_CODES.has(code)) {
          throw new EndpointUnreachableError(
            `cannot reach the ${service} endpoint (${(error as Error).message}); check ${variable} and the network`,
            { cause: error },
          );
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'explainNetworkErrors' },
  );
}

/** Clients for work on a deadline (the pre-provisioning hook) pass fewer attempts and shorter timeouts. */
export function createIotClient(options: ClientOptions = {}): IoTClient {
  const client = new IoTClient(settings(options));
  explainNetworkErrors(client, 'AWS IoT', 'AWS_ENDPOINT_URL_IOT');
  return client;
}

export function createDocumentClient(options: ClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient(settings(options));
  explainNetworkErrors(client, 'DynamoDB', 'AWS_ENDPOINT_URL_DYNAMODB');
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * `forcePathStyle` for S3-compatible local servers, which serve `http://host/<bucket>/<key>` and not
 * `http://<bucket>.host/<key>`; configuration says so (S3_FORCE_PATH_STYLE) rather than guessing from the
 * endpoint. AWS itself wants virtual-hosted style.
 */
export function createS3Client(options: ClientOptions & { forcePathStyle?: boolean } = {}): S3Client {
  const { forcePathStyle = false, ...rest } = options;
  const client = new S3Client({ ...settings(rest), forcePathStyle });
  explainNetworkErrors(client, 'Amazon S3', 'AWS_ENDPOINT_URL_S3');
  return client;
}

export function createSqsClient(options: ClientOptions = {}): SQSClient {
  const client = new SQSClient(settings(options));
  explainNetworkErrors(client, 'Amazon SQS', 'AWS_ENDPOINT_URL_SQS');
  return client;
}

export function createSnsClient(options: ClientOptions = {}): SNSClient {
  const client = new SNSClient(settings(options));
  explainNetworkErrors(client, 'Amazon SNS', 'AWS_ENDPOINT_URL_SNS');
  return client;
}

export function createLogsClient(options: ClientOptions = {}): CloudWatchLogsClient {
  const client = new CloudWatchLogsClient(settings(options));
  explainNetworkErrors(client, 'Amazon CloudWatch Logs', 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS');
  return client;
}

export function createCloudWatchClient(options: ClientOptions = {}): CloudWatchClient {
  const client = new CloudWatchClient(settings(options));
  explainNetworkErrors(client, 'Amazon CloudWatch', 'AWS_ENDPOINT_URL_CLOUDWATCH');
  return client;
}

export function createLambdaClient(options: ClientOptions = {}): LambdaClient {
  const client = new LambdaClient(settings(options));
  explainNetworkErrors(client, 'AWS Lambda', 'AWS_ENDPOINT_URL_LAMBDA');
  return client;
}
