import { DescribeEndpointCommand, type IoTClient } from '@aws-sdk/client-iot';

/** The account's AWS IoT endpoints (`EndpointDirectory`). */
export async function describeEndpoint(client: IoTClient, endpointType: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
  const { endpointAddress } = await client.send(new DescribeEndpointCommand({ endpointType }));
  if (!endpointAddress) throw new Error('DescribeEndpoint returned no address');
  return endpointAddress;
}
