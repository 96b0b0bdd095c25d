import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, Provider, SourceData } from '@smithy/types';

/**
 * SNS Publish, the one SNS call the stack makes (the expiry sweep's findings). The project's install has no
 * @aws-sdk/client-sns and takes no new dependency, so this is the call itself: SNS's Query protocol (a
 * form-encoded POST of `Action=Publish&Version=2010-03-31`, an XML answer; SNS API Reference, "Publish"),
 * signed with SigV4 for `sns` by @smithy/signature-v4 (the SDK clients' own signer), with the Lambda
 * role's credentials from the environment, as the SDK's default chain reads them in Lambda.
 * test/security/bundle-commands.ts reads this module as `sns:Publish` for the role-coverage test.
 */

export interface SnsTarget {
  region: string;
  /** `AWS_ENDPOINT_URL_SNS` when set (the local IoT Core), else the regional endpoint. */
  endpoint: string;
  credentials?: Provider<AwsCredentialIdentity>;
  timeoutMs?: number;
}

export class SnsPublishError extends Error {
  override name = 'SnsPublishError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data as ArrayBuffer);

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape SignatureV4 wants. */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export const regionalSnsEndpoint = (region: string): string => `https://sns.${region}.amazonaws.com`;

const xmlValue = (xml: string, tag: string): string | undefined => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

/** Publishes `message` to the topic; answers the message id. SNS refusals throw SnsPublishError with SNS's code. */
export async function publishMessage(target: SnsTarget, topicArn: string, message: string, subject?: string): Promise<string> {
  const url = new URL(target.endpoint);
  const body = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31', TopicArn: topicArn, Message: message, ...(subject ? { Subject: subject } : {}) }).toString();
  const signer = new SignatureV4({ service: 'sns', region: target.region, credentials: target.credentials ?? fromEnv(), sha256: NodeSha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname || '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name.toLowerCase() !== 'host')),
    body,
    signal: AbortSignal.timeout(target.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new SnsPublishError(xmlValue(text, 'Code') ?? `HTTP${response.status}`, `SNS Publish failed (${response.status}): ${xmlValue(text, 'Message') ?? text.slice(0, 200)}`);
  }
  const messageId = xmlValue(text, 'MessageId');
  if (!messageId) throw new SnsPublishError('MalformedResponse', 'SNS Publish answered without a MessageId');
  return messageId;
}
