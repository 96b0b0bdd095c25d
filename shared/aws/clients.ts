import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';

/**
 * SDK clients, built once per container. Endpoints come from the SDK's own environment variables
 * (`AWS_ENDPOINT_URL_IOT`, `AWS_ENDPOINT_URL_DYNAMODB`), which is how the local IoT Core is reached.
 *
 * Adaptive retries absorb throttling (IoT control-plane TPS quotas are low, aws-iot-reference §5); what
 * still fails is thrown so that Lambda retries the whole, idempotent, invocation. Bounded timeouts mean an
 * unreachable endpoint fails in seconds instead of hanging until the Lambda timeout.
 */
export interface ClientOptions {
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const DEFAULTS: Required<ClientOptions> = { maxAttempts: 6, connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 };

const settings = (options: ClientOptions) => {
  const o = { ...DEFAULTS, ...options };
  return {
    retryMode: 'adaptive' as const,
    maxAttempts: o.maxAttempts,
    requestHandler: { connectionTimeout: o.connectionTimeoutMs, requestTimeout: o.requestTimeoutMs },
  };
};

export class EndpointUnreachableError extends Error {
  override name = 'EndpointUnreachableError';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

/** After the SDK's retries, names the service and endpoint variable instead of a bare socket error. */
function explainNetworkErrors(client: IoTClient | DynamoDBClient, service: string, variable: string): void {
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
