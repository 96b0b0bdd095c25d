import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Retirement, RetirementQueue } from '../provisioning/ports';

/** Rotated certificates wait in an SQS queue for their grace period (DelaySeconds, at most 15 minutes). */
export class SqsRetirementQueue implements RetirementQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async schedule(retirement: Retirement, delaySeconds: number): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(retirement), DelaySeconds: Math.min(900, Math.max(0, delaySeconds)) }),
    );
  }
}
