import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listenOn } from '../net';
import { accessKeyIdOf, accountOfAccessKey } from '../iam/access-keys';

/**
 * The SNS the stack uses, on loopback: topics from the stack's `AWS::SNS::Topic` resources and `Publish`
 * (the Query protocol: a form-encoded POST, an XML answer, as the SNS API Reference describes it and
 * shared/aws/sns/publish.ts sends it). Nothing is delivered to subscribers: each topic keeps the messages
 * published to it, for tests and the sandbox to read (`messages(topicArn)`).
 *
 * As SNS does: a topic that does not exist in the caller's account is `NotFound` (404); a missing
 * TopicArn or Message is `InvalidParameter` (400); a message over 256 KiB is `InvalidParameter`; a subject
 * must be at most 100 printable ASCII characters. The caller's account is the access key id's (the local
 * IoT Core's convention: every local key id names its account, local/iam/access-keys.ts). Other actions
 * answer `InvalidAction`.
 */

export interface PublishedMessage {
  messageId: string;
  topicArn: string;
  message: string;
  subject?: string;
  at: Date;
}

import { accessDeniedMessage, EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE, type Authorize } from '../iam/local-iam';

class SnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const MAX_MESSAGE_BYTES = 262_144;

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

export class LocalSns {
  private readonly server: Server;
  private url = '';
  private readonly topics = new Map<string, PublishedMessage[]>();

  /** The local IAM's check of each call (set by the local IoT Core); without it nothing is checked. */
  authorize: Authorize | undefined = undefined;

  constructor(private readonly options: { region: string }) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.url = `http://${host}:${await listenOn(this.server, port, host)}`;
    return this.url;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  /** Creates a topic (idempotent, as CreateTopic is) and answers its ARN. */
  createTopic(accountId: string, name: string): string {
    const arn = `arn:aws:sns:${this.options.region}:${accountId}:${name}`;
    if (!this.topics.has(arn)) this.topics.set(arn, []);
    return arn;
  }

  /** What was published to the topic, oldest first (a copy). */
  messages(topicArn: string): PublishedMessage[] {
    return [...(this.topics.get(topicArn) ?? [])];
  }

  publish(accountId: string, params: URLSearchParams): PublishedMessage {
    const topicArn = params.get('TopicArn');
    const message = params.get('Message');
    if (!topicArn) throw new SnsError('InvalidParameter', 'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter', 400);
    if (message === null || message === '') throw new SnsError('InvalidParameter', 'Invalid parameter: Message Reason: Empty message', 400);
    if (Buffer.byteLength(message, 'utf8') > MAX_MESSAGE_BYTES) throw new SnsError('InvalidParameter', 'Invalid parameter: Message too long', 400);
    const subject = params.get('Subject') ?? undefined;
    if (subject !== undefined && (subject.length === 0 || subject.length > 100 || /[^\x20-\x7e]/.test(subject))) {
      throw new SnsError('InvalidParameter', 'Invalid parameter: Subject', 400);
    }
    const messages = this.topics.get(topicArn);
    if (!messages || topicArn.split(':')[4] !== accountId) throw new SnsError('NotFound', 'Topic does not exist', 404);
    const published: PublishedMessage = { messageId: randomUUID(), topicArn, message, ...(subject ? { subject } : {}), at: new Date() };
    messages.push(published);
    return published;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const answer = (status: number, xml: string) => {
      response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      response.end(xml);
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      // SigV4's Credential=<access key id>/<date>/<region>/sns/aws4_request names the account.
      // A local key names its account (local/iam/access-keys.ts); any other key is taken as the account, as before.
      const accessKeyId = accessKeyIdOf(request.headers.authorization);
      const accountId = accountOfAccessKey(accessKeyId) ?? accessKeyId;
      if (!accountId) throw new SnsError('InvalidClientTokenId', INVALID_TOKEN_MESSAGE, 403);
      const action = params.get('Action');
      if (action !== 'Publish') throw new SnsError('InvalidAction', `The action ${action ?? '(none)'} is not valid for this endpoint.`, 400);
      // IAM (local/iam/): SNS answers 403 AuthorizationError and names the action `SNS:Publish`, as its
      // errors are commonly reported ("is not authorized to perform: SNS:Publish on resource: <topic>").
      const decision = await this.authorize?.(request.headers.authorization, 'sns:Publish', [params.get('TopicArn') ?? params.get('TargetArn') ?? '*']);
      if (decision?.kind === 'unknown-key') throw new SnsError('InvalidClientTokenId', INVALID_TOKEN_MESSAGE, 403);
      if (decision?.kind === 'expired') throw new SnsError('ExpiredToken', EXPIRED_TOKEN_MESSAGE, 403);
      if (decision?.kind === 'denied') throw new SnsError('AuthorizationError', accessDeniedMessage({ ...decision, action: 'SNS:Publish' }), 403);
      const { messageId } = this.publish(accountId, params);
      answer(
        200,
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    } catch (error) {
      const e = error instanceof SnsError ? error : new SnsError('InternalError', (error as Error).message, 500);
      answer(
        e.status,
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type>` +
          `<Code>${e.code}</Code><Message>${escapeXml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  }
}
