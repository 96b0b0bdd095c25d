import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { CertificateMaterial, CertificateStore, StoredObject } from '../provisioning/certificate-store-port';

/**
 * The certificate bucket: `<thing>/certificate.pem.crt`, `<thing>/public.pem.key` and
 * `<thing>/private.pem.key`, the file names of seed 002, so a device fetches them the way it did there.
 *
 * Each object says which certificate wrote it (`x-amz-meta-certificate-id`). CloudFormation deletes a
 * replaced resource only after its replacement exists, and a rollback can put a certificate for the same
 * thing back in place; removing by owner means a late Delete never takes the live certificate's keys.
 * Each also says which CloudFormation request wrote it (`x-amz-meta-request-id`): Lambda runs a request
 * again after a crash, and the retry finds the certificate the crashed attempt made.
 *
 * Server-side encryption is SSE-S3 (AES256), the bucket's default too. SSE-KMS with the AWS-managed key
 * would add a KMS call per object and no access boundary of its own (every principal of the account that
 * may read the object may use that key); who can read a private key is decided by the bucket being private
 * and by IAM. A customer-managed key would add a second gate, at the price of a key policy per reader.
 */

const OBJECT_NAMES = { certificatePem: 'certificate.pem.crt', publicKey: 'public.pem.key', privateKey: 'private.pem.key' } as const;
type Part = keyof typeof OBJECT_NAMES;
const PARTS = Object.keys(OBJECT_NAMES) as Part[];
/** S3 returns user metadata keys in lower case. */
const OWNER_KEY = 'certificate-id';
const REQUEST_KEY = 'request-id';

/**
 * Where Delete leaves its marks (`.deleted/<thing>/<request id>`): outside every thing's prefix (a thing name
 * has no '.'), so devices and `inspect` never see them; the bucket's lifecycle rule expires them after a
 * week, long after Lambda's last retry (six hours at most).
 */
export const DELETED_MARKS_PREFIX = '.deleted/';

const isNamed = (error: unknown, ...names: string[]) => error instanceof Error && names.includes(error.name);

export class S3CertificateStore implements CertificateStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  locationOf(thingName: string): { bucket: string; prefix: string } {
    return { bucket: this.bucket, prefix: `${thingName}/` };
  }

  async put(thingName: string, material: CertificateMaterial, requestId: string): Promise<void> {
    const { prefix } = this.locationOf(thingName);
    // All settled before answering: a write still in flight (or being retried) after a failure could land
    // after the rollback Delete has emptied the prefix, and leave a private key nobody deletes.
    const writes = await Promise.allSettled(
      PARTS.map((part) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: `${prefix}${OBJECT_NAMES[part]}`,
            Body: material[part],
            ContentType: 'application/x-pem-file',
            ServerSideEncryption: 'AES256',
            Metadata: { [OWNER_KEY]: material.certificateId, [REQUEST_KEY]: requestId },
          }),
        ),
      ),
    );
    const failed = writes.find((write): write is PromiseRejectedResult => write.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async inspect(thingName: string): Promise<StoredObject[]> {
    const { prefix } = this.locationOf(thingName);
    const keys = await this.keysUnder(prefix);
    const marks = await Promise.all(keys.map((key) => this.marksOf(key)));
    return keys.flatMap((key, index) => {
      const mark = marks[index];
      if (!mark) return [];
      const part = PARTS.find((p) => `${prefix}${OBJECT_NAMES[p]}` === key);
      return [{ ...(part ? { part } : {}), ...mark }];
    });
  }

  async remove(thingName: string, certificateId: string): Promise<{ removed: number; kept: number }> {
    const { prefix } = this.locationOf(thingName);
    const keys = await this.keysUnder(prefix);
    const marks = await Promise.all(keys.map((key) => this.marksOf(key)));
    const owned = keys.filter((_, index) => marks[index]?.certificateId === certificateId);
    const gone = marks.filter((mark) => mark === null).length;
    // DeleteObjects takes at most 1000 keys.
    for (let start = 0; start < owned.length; start += 1000) {
      const batch = owned.slice(start, start + 1000);
      const result = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = (result.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`DeleteObjects failed for ${failed.length} object(s): ${failed[0]?.Code ?? 'unknown error'}`);
    }
    return { removed: owned.length, kept: keys.length - owned.length - gone };
  }

  async markDeleted(thingName: string, certificateId: string): Promise<void> {
    const requests = new Set((await this.inspect(thingName)).flatMap((mark) => (mark.certificateId === certificateId && mark.requestId ? [mark.requestId] : [])));
    for (const requestId of requests) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${DELETED_MARKS_PREFIX}${thingName}/${requestId}`,
          Body: '',
          // Without it the SDK cannot tell an empty body from a stream of unknown length and warns in the log.
          ContentLength: 0,
          ServerSideEncryption: 'AES256',
          Metadata: { [OWNER_KEY]: certificateId, [REQUEST_KEY]: requestId },
        }),
      );
    }
  }

  async deletedFor(thingName: string, requestId: string): Promise<string | undefined> {
    return (await this.marksOf(`${DELETED_MARKS_PREFIX}${thingName}/${requestId}`))?.certificateId;
  }

  private async keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : [])));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Who wrote the object (absent marks: unmarked), or `null` if it is gone. */
  private async marksOf(key: string): Promise<{ certificateId?: string; requestId?: string } | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const certificateId = head.Metadata?.[OWNER_KEY];
      const requestId = head.Metadata?.[REQUEST_KEY];
      return { ...(certificateId ? { certificateId } : {}), ...(requestId ? { requestId } : {}) };
    } catch (error) {
      if (isNamed(error, 'NotFound', 'NoSuchKey')) return null;
      throw error;
    }
  }
}
