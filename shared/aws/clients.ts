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
const requestHandler = { connectionTimeout: 3_000, requestTimeout: 10_000 };

export function createIotClient(): IoTClient {
  return new IoTClient({ retryMode: 'adaptive', maxAttempts: 6, requestHandler });
}

export function createDocumentClient(): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ retryMode: 'adaptive', maxAttempts: 6, requestHandler });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
