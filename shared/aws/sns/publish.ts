import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/**
 * SNS Publish, the one SNS call the stack makes (the expiry sweep's findings), through the SDK's client:
 * its retries, its adaptive rate limiting, and its error classes (`NotFoundException`, `InvalidParameterException`, …).
 * The endpoint comes from `AWS_ENDPOINT_URL_SNS` when set (the local IoT Core), as for every other client.
 */
export async function publishMessage(client: SNSClient, topicArn: string, message: string, subject?: string): Promise<string> {
  const { MessageId } = await client.send(new PublishCommand({ TopicArn: topicArn, Message: message, ...(subject ? { Subject: subject } : {}) }));
  if (!MessageId) throw new Error('SNS Publish answered without a MessageId');
  return MessageId;
}
