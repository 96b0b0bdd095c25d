import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import AWSAccount = require('s3rver/lib/models/account');
import type { Middleware } from 'koa';
import { accountOfAccessKey } from '../iam/access-keys';

/**
 * The stack's S3 on loopback: s3rver (a maintained S3-compatible server), path-style, its objects in a
 * temporary directory removed on close — the custom resource writes private keys there, and those must
 * not outlive the run. s3rver knows access keys by id only; the local IoT Core's (a 12-digit account id,
 * secret `local`) are registered per account. It does not model bucket policies, encryption or public
 * access blocks: the package test checks those in the template. With `authorize`, each request is decided
 * (IAM, local/iam/) before s3rver sees it, and a refusal is answered as S3 answers it (an XML `<Error>`).
 */

/** A refusal S3 answers instead of serving the request. */
export interface S3Refusal {
  status: number;
  code: string;
  message: string;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

const xmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export class LocalS3 {
  private constructor(
    private readonly server: S3rver,
    private readonly directory: string,
    readonly url: string,
    private readonly region: string,
    private readonly bucketOwners: Map<string, string>,
  ) {}

  static async start(options: { port?: number; host?: string; region: string; authorize?: (request: IncomingMessage) => Promise<S3Refusal | undefined> }): Promise<LocalS3> {
    const directory = mkdtempSync(join(tmpdir(), 'local-s3-'));
    const host = options.host ?? '127.0.0.1';
    const server = new S3rver({ port: options.port ?? 0, address: host, silent: true, directory, resetOnClose: true, vhostBuckets: false });
    const owners = new Map<string, string>();
    // Before s3rver's own middleware (Koa composes them when it listens): another account's caller gets 403
    // AccessDenied, as S3 answers when no bucket policy grants that account access (s3rver checks keys only).
    // Cross-account access needs both the caller's policy and the bucket policy:
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html
    // s3rver is a Koa application (its types do not say so).
    (server as unknown as { middleware: Middleware[] }).middleware.unshift(async (ctx, next) => {
      const credential = /Credential=([^/,\s]+)\//.exec(String(ctx.get('authorization') || ''))?.[1] ?? String(ctx.query['X-Amz-Credential'] ?? '').split('/')[0];
      const caller = accountOfAccessKey(credential || undefined);
      const owner = owners.get(decodeURIComponent(ctx.path.split('/')[1] ?? ''));
      if (caller && owner && caller !== owner) {
        ctx.status = 403;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
        return;
      }
      await next();
    });
    const address = await server.run();
    const { authorize } = options;
    if (authorize) {
      // Interposed before s3rver: its request listeners run only for requests IAM lets through.
      const http = (server as unknown as { httpServer: import('node:http').Server }).httpServer;
      const serve = http.listeners('request') as RequestListener[];
      http.removeAllListeners('request');
      http.on('request', (request: IncomingMessage, response: ServerResponse) => {
        void authorize(request)
          .catch((error: unknown) => {
            console.error('[local-s3] authorization failed', error);
            return { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };
          })
          .then((refusal) => {
            if (!refusal) {
              for (const listener of serve) listener.call(http, request, response);
              return;
            }
            request.resume();
            const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
            const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${xmlText(refusal.message)}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`;
            response.writeHead(refusal.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': requestId });
            response.end(request.method === 'HEAD' ? undefined : body);
          });
      });
    }
    return new LocalS3(server, directory, `http://${host}:${address.port}`, options.region, owners);
  }

  /** Lets the account's local credentials (`<accountId>` / `local`) in. */
  registerAccount(accountId: string): void {
    if (!AWSAccount.registry.has(accountId)) new AWSAccount(Number(accountId), `local-${accountId}`).createKeyPair(accountId, 'local');
  }

  /** Lets temporary credentials of the account in (those the credential provider hands devices). */
  registerKey(accountId: string, accessKeyId: string, secretAccessKey: string): void {
    this.registerAccount(accountId);
    AWSAccount.registry.get(accountId)!.createKeyPair(accessKeyId, secretAccessKey);
  }

  async createBucket(accountId: string, bucket: string): Promise<void> {
    const owner = this.bucketOwners.get(bucket);
    if (owner !== undefined && owner !== accountId) {
      throw Object.assign(new Error(`The requested bucket name is not available (${bucket} is another account's).`), { name: 'BucketAlreadyExists' });
    }
    this.registerAccount(accountId);
    const s3 = new S3Client({ endpoint: this.url, region: this.region, forcePathStyle: true, credentials: { accessKeyId: accountId, secretAccessKey: 'local' } });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== 'BucketAlreadyExists') throw error;
    } finally {
      s3.destroy();
    }
    this.bucketOwners.set(bucket, accountId);
  }

  async close(): Promise<void> {
    await this.server.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
