import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenOn } from '../net';
import { accessKeyIdOf, accountOfAccessKey } from '../iam/access-keys';

/**
 * The SQS the stack uses, on loopback: queues from the stack's `AWS::SQS::Queue` resources, `SendMessage`
 * (JSON protocol, as the AWS SDK v3 speaks it, with `DelaySeconds`), and Lambda's SQS event source mapping:
 * batches of up to `batchSize`, partial failures (`ReportBatchItemFailures`), a failed message coming back
 * after the visibility timeout, and the redrive policy moving it to the dead-letter target after
 * `maxReceiveCount` receives. Delays and visibility timeouts are divided by `timeScale`.
 *
 * Only what the stack needs is modelled; other operations answer `UnsupportedOperation`. No npm package
 * offers an SQS endpoint without a JVM (ElasticMQ), which is why this one is ours.
 */

export interface QueueSettings {
  visibilityTimeoutSeconds?: number;
  redrive?: { deadLetterTargetArn: string; maxReceiveCount: number };
}

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, unknown>;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export interface Consumer {
  batchSize: number;
  reportBatchItemFailures: boolean;
  /** Invokes the function synchronously with `{ Records }`; throws when the invocation fails. */
  invoke: (event: { Records: SqsRecord[] }) => Promise<unknown>;
}

interface Message {
  messageId: string;
  body: string;
  messageAttributes: Record<string, unknown>;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
}

interface Queue {
  name: string;
  accountId: string;
  arn: string;
  url: string;
  settings: QueueSettings;
  messages: Message[];
  consumer?: Consumer;
  inFlight: number;
}

/** A message of a queue whose messages live elsewhere (the local IoT Core's failure list: ./failure-queue-view.ts). */
export interface HostedMessage {
  messageId: string;
  body: string;
  sentAt: number;
  /** System attributes it carries (DeadLetterQueueSourceArn). */
  attributes?: Record<string, string>;
}

/** A queue SQS serves but does not hold: ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes. */
export interface HostedQueue {
  messages(): HostedMessage[];
  remove(messageId: string): void;
}

interface Hosted {
  name: string;
  accountId: string;
  queue: HostedQueue;
  /** Receive state per message id: received messages are hidden until `visibleAt`. */
  state: Map<string, { visibleAt: number; receiveCount: number; firstReceivedAt: number }>;
}

class SqsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** An IAM refusal: the code of the JSON body's `__type`, and the query-compatible code the SDK names the error by. */
export interface SqsRefusal {
  status: number;
  type: string;
  queryCode: string;
  message: string;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const MAX_BODY_BYTES = 262_144;

export class LocalSqs {
  private readonly server: Server;
  private readonly queues = new Map<string, Queue>();
  private readonly hosted: Hosted[] = [];
  private url = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly options: {
      region: string;
      timeScale: number;
      /** A message that ran out of receives, when its dead-letter target is not one of these queues. */
      onDeadLetter: (targetArn: string, queueName: string, message: { messageId: string; body: string; receiveCount: number }) => void;
      /**
       * IAM (local/iam/): may the signer make this call? A refusal is answered as SQS answers it over the JSON
       * protocol (its `x-amzn-query-error` header is the code the SDK names the error by); undefined lets it through.
       */
      authorize?: (operation: string, input: Record<string, unknown>, authorization: string | undefined) => Promise<SqsRefusal | undefined>;
    },
  ) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.url = `http://${host}:${await listenOn(this.server, port, host)}`;
    return this.url;
  }

  get endpoint(): string {
    return this.url;
  }

  /** Creates a queue (or updates the settings of an existing one); its URL is `<endpoint>/<account>/<name>`, as AWS's are. */
  createQueue(accountId: string, name: string, settings: QueueSettings = {}): { url: string; arn: string } {
    const arn = `arn:aws:sqs:${this.options.region}:${accountId}:${name}`;
    let queue = this.queues.get(arn);
    if (!queue) {
      queue = { name, accountId, arn, url: `${this.url}/${accountId}/${name}`, settings, messages: [], inFlight: 0 };
      this.queues.set(arn, queue);
    } else if (Object.keys(settings).length) {
      queue.settings = settings;
    }
    return { url: queue.url, arn };
  }

  /**
   * Serves a queue whose messages another part of the local IoT Core holds. Visibility timeouts are real
   * seconds here (no `timeScale`): only the console's functions receive from it, never an event source.
   */
  hostQueue(accountId: string, name: string, queue: HostedQueue): void {
    this.hosted.push({ name, accountId, queue, state: new Map() });
  }

  private hostedOf(queueUrl: string): Hosted {
    const hosted = this.hosted.find((h) => queueUrl.endsWith(`/${h.accountId}/${h.name}`));
    if (!hosted) throw new SqsError('UnsupportedOperation', 'The local SQS models this operation for the stack\'s failure queue only.');
    return hosted;
  }

  private receiveHosted(input: Record<string, unknown>): unknown {
    const hosted = this.hostedOf(String(input.QueueUrl ?? ''));
    const max = input.MaxNumberOfMessages === undefined ? 1 : Number(input.MaxNumberOfMessages);
    if (!Number.isInteger(max) || max < 1 || max > 10) throw new SqsError('InvalidParameterValue', 'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.');
    const visibility = input.VisibilityTimeout === undefined ? 30 : Number(input.VisibilityTimeout);
    if (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200) throw new SqsError('InvalidParameterValue', 'Value for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.');
    const now = Date.now();
    const visible = hosted.queue.messages().filter((m) => (hosted.state.get(m.messageId)?.visibleAt ?? 0) <= now).slice(0, max);
    return {
      Messages: visible.map((m) => {
        const state = hosted.state.get(m.messageId) ?? { visibleAt: 0, receiveCount: 0, firstReceivedAt: now };
        state.receiveCount += 1;
        state.visibleAt = now + visibility * 1000;
        hosted.state.set(m.messageId, state);
        return {
          MessageId: m.messageId,
          ReceiptHandle: Buffer.from(`${m.messageId}:${state.receiveCount}`).toString('base64'),
          MD5OfBody: md5(m.body),
          Body: m.body,
          Attributes: {
            SentTimestamp: String(m.sentAt),
            ApproximateReceiveCount: String(state.receiveCount),
            ApproximateFirstReceiveTimestamp: String(state.firstReceivedAt),
            ...m.attributes,
          },
        };
      }),
    };
  }

  private messageIdOf(receiptHandle: unknown): string {
    const text = typeof receiptHandle === 'string' ? Buffer.from(receiptHandle, 'base64').toString('utf8') : '';
    const id = text.slice(0, text.lastIndexOf(':'));
    if (!id) throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${String(receiptHandle)}" is not a valid receipt handle.`);
    return id;
  }

  /** Lambda's event source mapping for the queue. */
  addConsumer(queueArn: string, consumer: Consumer): void {
    const queue = this.queues.get(queueArn);
    if (!queue) throw new Error(`no local queue ${queueArn}`);
    queue.consumer = consumer;
    this.schedule(queue, 0);
  }

  /** Messages waiting (delayed, visible or in flight) per queue name. */
  depth(): Record<string, number> {
    return Object.fromEntries([...this.queues.values()].map((q) => [q.name, q.messages.length]));
  }

  /** Resolves when no queue with a consumer holds a message. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  isIdle(): boolean {
    return [...this.queues.values()].every((q) => !q.consumer || (q.messages.length === 0 && q.inFlight === 0));
  }

  send(queueUrl: string, body: string, options: { delaySeconds?: number; messageAttributes?: Record<string, unknown> } = {}): { messageId: string } {
    const queue = [...this.queues.values()].find((q) => q.url === queueUrl || queueUrl.endsWith(`/${q.accountId}/${q.name}`));
    if (!queue) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    if (!body) throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw new SqsError('InvalidParameterValue', `Message must be shorter than ${MAX_BODY_BYTES} bytes.`);
    const delay = options.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) throw new SqsError('InvalidParameterValue', 'Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.');
    const now = Date.now();
    const message: Message = {
      messageId: randomUUID(),
      body,
      messageAttributes: options.messageAttributes ?? {},
      sentAt: now,
      visibleAt: now + (delay * 1000) / this.options.timeScale,
      receiveCount: 0,
    };
    queue.messages.push(message);
    this.schedule(queue, message.visibleAt - now);
    return { messageId: message.messageId };
  }

  private schedule(queue: Queue, inMs: number): void {
    if (!queue.consumer) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.poll(queue);
    }, Math.max(0, inMs));
    this.timers.add(timer);
  }

  private async poll(queue: Queue): Promise<void> {
    const consumer = queue.consumer;
    if (!consumer) return;
    const now = Date.now();
    const batch = queue.messages.filter((m) => m.visibleAt <= now).slice(0, consumer.batchSize);
    if (batch.length === 0) {
      // A timer may fire a millisecond before Date.now() reaches the visibility time: poll again then.
      const next = Math.min(...queue.messages.map((m) => m.visibleAt));
      if (Number.isFinite(next)) this.schedule(queue, Math.max(1, next - now));
      return this.settle();
    }
    const visibilityMs = ((queue.settings.visibilityTimeoutSeconds ?? 30) * 1000) / this.options.timeScale;
    for (const message of batch) {
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + visibilityMs;
    }
    queue.inFlight += 1;
    let failed: Set<string>;
    try {
      const result = (await consumer.invoke({ Records: batch.map((m) => this.record(queue, m)) })) as { batchItemFailures?: Array<{ itemIdentifier?: string }> } | null;
      const reported = consumer.reportBatchItemFailures ? (result?.batchItemFailures ?? []) : [];
      failed = new Set(reported.map((f) => String(f.itemIdentifier)));
      // A failure naming no message of the batch fails the whole batch, as Lambda does.
      if ([...failed].some((id) => !batch.some((m) => m.messageId === id))) failed = new Set(batch.map((m) => m.messageId));
    } catch {
      failed = new Set(batch.map((m) => m.messageId));
    } finally {
      queue.inFlight -= 1;
    }
    for (const message of batch) {
      if (!failed.has(message.messageId)) {
        queue.messages.splice(queue.messages.indexOf(message), 1);
        continue;
      }
      const redrive = queue.settings.redrive;
      if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
        queue.messages.splice(queue.messages.indexOf(message), 1);
        this.deadLetter(queue, redrive.deadLetterTargetArn, message);
        continue;
      }
      this.schedule(queue, message.visibleAt - Date.now());
    }
    if (queue.messages.some((m) => m.visibleAt <= Date.now())) this.schedule(queue, 0);
    this.settle();
  }

  private deadLetter(queue: Queue, targetArn: string, message: Message): void {
    const target = this.queues.get(targetArn);
    if (target) {
      target.messages.push({ ...message, visibleAt: Date.now(), receiveCount: 0 });
      this.schedule(target, 0);
    } else {
      this.options.onDeadLetter(targetArn, queue.name, { messageId: message.messageId, body: message.body, receiveCount: message.receiveCount });
    }
  }

  private record(queue: Queue, message: Message): SqsRecord {
    return {
      messageId: message.messageId,
      receiptHandle: Buffer.from(`${message.messageId}:${message.receiveCount}`).toString('base64'),
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: queue.accountId,
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      },
      messageAttributes: message.messageAttributes,
      md5OfBody: md5(message.body),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: this.options.region,
    };
  }

  private settle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...headers });
      response.end(JSON.stringify(body));
    };
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
    try {
      if (request.method !== 'POST' || !operation) throw new SqsError('InvalidAction', 'Only the JSON protocol (X-Amz-Target: AmazonSQS.<Operation>) is served here.');
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new SqsError('InvalidParameterValue', 'The request body is not JSON.');
      }
      const refusal = await this.options.authorize?.(operation, input, request.headers.authorization);
      if (refusal) {
        return reply(refusal.status, { __type: refusal.type, message: refusal.message }, { 'x-amzn-query-error': `${refusal.queryCode};Sender` });
      }
      // A queue is its account's: another account's caller gets AccessDenied (no queue policy grants it; SQS
      // cross-account access needs one: https://repost.aws/knowledge-center/sqs-accessdenied-errors).
      const caller = accountOfAccessKey(accessKeyIdOf(request.headers.authorization));
      const owner = /\/(\d{12})\/[^/]+$/.exec(String(input.QueueUrl ?? ''))?.[1];
      if (caller && owner && caller !== owner) throw new SqsError('AccessDenied', 'Access to the resource is denied.', 403);
      if (operation === 'GetQueueUrl' && caller && input.QueueOwnerAWSAccountId !== undefined && String(input.QueueOwnerAWSAccountId) !== caller) {
        throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist or you do not have access to it.');
      }
      if (operation === 'SendMessage') {
        const body = typeof input.MessageBody === 'string' ? input.MessageBody : '';
        const { messageId } = this.send(String(input.QueueUrl ?? ''), body, {
          ...(input.DelaySeconds !== undefined ? { delaySeconds: Number(input.DelaySeconds) } : {}),
          ...(input.MessageAttributes ? { messageAttributes: input.MessageAttributes as Record<string, unknown> } : {}),
        });
        return reply(200, { MessageId: messageId, MD5OfMessageBody: md5(body) });
      }
      if (operation === 'GetQueueUrl') {
        const accountId = String(input.QueueOwnerAWSAccountId ?? accountOfAccessKey(accessKeyIdOf(request.headers.authorization)) ?? '');
        const queue = [...this.queues.values()].find((q) => q.name === input.QueueName && (!accountId || q.accountId === accountId));
        if (!queue) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
        return reply(200, { QueueUrl: queue.url });
      }
      if (operation === 'ReceiveMessage') return reply(200, this.receiveHosted(input));
      if (operation === 'DeleteMessage') {
        const hosted = this.hostedOf(String(input.QueueUrl ?? ''));
        const id = this.messageIdOf(input.ReceiptHandle);
        hosted.queue.remove(id);
        hosted.state.delete(id);
        return reply(200, {});
      }
      if (operation === 'ChangeMessageVisibility') {
        const hosted = this.hostedOf(String(input.QueueUrl ?? ''));
        const state = hosted.state.get(this.messageIdOf(input.ReceiptHandle));
        if (!state) throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.');
        state.visibleAt = Date.now() + Number(input.VisibilityTimeout ?? 0) * 1000;
        return reply(200, {});
      }
      if (operation === 'GetQueueAttributes') {
        const hosted = this.hostedOf(String(input.QueueUrl ?? ''));
        const now = Date.now();
        const messages = hosted.queue.messages();
        const inFlight = messages.filter((m) => (hosted.state.get(m.messageId)?.visibleAt ?? 0) > now).length;
        return reply(200, {
          Attributes: {
            ApproximateNumberOfMessages: String(messages.length - inFlight),
            ApproximateNumberOfMessagesNotVisible: String(inFlight),
            ApproximateNumberOfMessagesDelayed: '0',
          },
        });
      }
      throw new SqsError('UnsupportedOperation', `${operation} is not modelled by the local SQS (SendMessage and GetQueueUrl are; the failure queue also serves ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes).`);
    } catch (error) {
      if (error instanceof SqsError) {
        return reply(error.status, { __type: `com.amazonaws.sqs#${error.code}`, message: error.message });
      }
      return reply(500, { __type: 'com.amazonaws.sqs#InternalError', message: 'internal error' });
    }
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await closeServer(this.server);
  }
}
