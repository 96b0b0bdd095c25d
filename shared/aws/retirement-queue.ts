import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Retirement, RetirementQueue } from '../provisioning/retirement-port';

/**
 * Rotated certificates wait in an SQS queue for their grace period (DelaySeconds, at most 15 minutes).
 * The queue is known by name; its URL is looked up once per container.
 */
export class SqsRetirementQueue implements RetirementQueue {
  private queueUrl?: Promise<string>;

  constructor(
    private readonly client: SQSClient,
    private readonly queueName: string,
  ) {}

  async schedule(retirement: Retirement, delaySeconds: number): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: await this.url(), MessageBody: JSON.stringify(retirement), DelaySeconds: Math.min(900, Math.max(0, delaySeconds)) }),
    );
  }

  private url(): Promise<string> {
    this.queueUrl ??= this.client.send(new GetQueueUrlCommand({ QueueName: this.queueName })).then(
      ({ QueueUrl }) => {
        if (!QueueUrl) throw new Error(`no URL for queue ${this.queueName}`);
        return QueueUrl;
      },
      (error: unknown) => {
        this.queueUrl = undefined;
        throw error;
      },
    );
    return this.queueUrl;
  }
}
