import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/**
 * The iot-data client, built once per container, like ../clients.ts builds the others (adaptive retries,
 * bounded timeouts). Its endpoint: the SDK's `AWS_ENDPOINT_URL_IOT_DATA_PLANE` when set (the local IoT Core),
 * else the account's `iot:Data-ATS` endpoint from DescribeEndpoint — the AWS CLI's iot-data documentation:
 * "For production code it is strongly recommended to use the custom endpoint for your account (retrievable
 * via the iot describe-endpoint command) … The default endpoints (intended for testing purposes only)"
 * (https://docs.aws.amazon.com/cli/latest/reference/iot-data/, aws-cli awscli/customizations/iot_data.py).
 */
export function createIotDataClient(endpointAddress?: string): IoTDataPlaneClient {
  return new IoTDataPlaneClient({
    retryMode: 'adaptive',
    maxAttempts: 6,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    ...(endpointAddress ? { endpoint: `https://${endpointAddress}` } : {}),
  });
}
