import type { IamDecision, LocalIam } from './local-iam';

/**
 * What IAM is asked for a call to each local service: one or more (action, resources) checks, all of which
 * must be allowed. The actions and resource ARNs follow the Service Authorization Reference:
 * - DynamoDB (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html): the
 *   operation on the table, or its index for Query/Scan with IndexName; BatchGetItem/BatchWriteItem on each
 *   table they name; TransactWriteItems/TransactGetItems need the action of each part (PutItem, UpdateItem,
 *   DeleteItem, ConditionCheckItem, GetItem) on its table ("Using IAM with DynamoDB transactions":
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html);
 * - SQS (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html): the operation
 *   on the queue; the *Batch operations are authorized as their single action (there is no sqs:SendMessageBatch
 *   action: aws/serverless-application-model#3633);
 * - S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html): objects as
 *   `arn:aws:s3:::<bucket>/<key>`, bucket operations on `arn:aws:s3:::<bucket>`.
 */

export interface Check {
  action: string;
  resources: string[];
}

/** The first check IAM denies (or the unknown key), else allowed. */
export async function authorizeAll(iam: LocalIam, accessKeyId: string | undefined, checks: Check[]): Promise<IamDecision> {
  for (const check of checks) {
    const decision = await iam.authorize(accessKeyId, check.action, check.resources);
    if (decision.kind !== 'allowed') return decision;
  }
  return { kind: 'allowed' };
}

const TRANSACT_WRITE_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** The checks of a DynamoDB call (`X-Amz-Target: DynamoDB_20120810.<Operation>`, its JSON body). */
export function dynamoDbChecks(operation: string, body: Record<string, unknown>, region: string, accountId: string): Check[] {
  const table = (name: unknown) => `arn:aws:dynamodb:${region}:${accountId}:table/${String(name)}`;
  const action = `dynamodb:${operation}`;
  switch (operation) {
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return [{ action, resources: Object.keys((body.RequestItems as Record<string, unknown> | undefined) ?? {}).map(table) }];
    case 'TransactWriteItems':
    case 'TransactGetItems':
      return ((body.TransactItems as Array<Record<string, { TableName?: string }>> | undefined) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, part]) => ({
          action: operation === 'TransactGetItems' ? 'dynamodb:GetItem' : (TRANSACT_WRITE_ACTIONS[kind] ?? `dynamodb:${kind}`),
          resources: [table(part.TableName)],
        })),
      );
    case 'ListTables':
    case 'DescribeLimits':
    case 'DescribeEndpoints':
      return [{ action, resources: ['*'] }];
    default: {
      if (typeof body.TableName !== 'string') return [{ action, resources: ['*'] }];
      const index = typeof body.IndexName === 'string' && (operation === 'Query' || operation === 'Scan') ? `/index/${body.IndexName}` : '';
      return [{ action, resources: [`${table(body.TableName)}${index}`] }];
    }
  }
}

const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/** The checks of an SQS call (JSON protocol): the queue of its QueueUrl (`<endpoint>/<account>/<name>`) or QueueName. */
export function sqsChecks(operation: string, input: Record<string, unknown>, region: string, callerAccountId: string): Check[] {
  const action = `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`;
  if (typeof input.QueueUrl === 'string') {
    const [accountId, name] = new URL(input.QueueUrl, 'http://localhost').pathname.split('/').filter(Boolean).slice(-2);
    if (accountId && name) return [{ action, resources: [`arn:aws:sqs:${region}:${accountId}:${name}`] }];
  }
  if (typeof input.QueueName === 'string') {
    const owner = typeof input.QueueOwnerAWSAccountId === 'string' ? input.QueueOwnerAWSAccountId : callerAccountId;
    return [{ action, resources: [`arn:aws:sqs:${region}:${owner}:${input.QueueName}`] }];
  }
  return [{ action, resources: ['*'] }];
}

/** Object sub-resources (`?tagging`, …) and the actions S3 authorizes them as, by method. */
const S3_OBJECT_SUBRESOURCES: Record<string, Record<string, string>> = {
  tagging: { GET: 's3:GetObjectTagging', PUT: 's3:PutObjectTagging', DELETE: 's3:DeleteObjectTagging' },
  acl: { GET: 's3:GetObjectAcl', PUT: 's3:PutObjectAcl' },
  uploads: { POST: 's3:PutObject' },
  uploadId: { GET: 's3:ListMultipartUploadParts', PUT: 's3:PutObject', POST: 's3:PutObject', DELETE: 's3:AbortMultipartUpload' },
};

/** The checks of a path-style S3 request (`/<bucket>/<key>`). */
export function s3Checks(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>): Check[] {
  const url = new URL(rawUrl, 'http://localhost');
  const [bucket, ...rest] = url.pathname.split('/').slice(1);
  const key = rest.map(decodeURIComponent).join('/');
  if (!bucket) return [{ action: 's3:ListAllMyBuckets', resources: ['*'] }];
  const bucketArn = `arn:aws:s3:::${decodeURIComponent(bucket)}`;
  const verb = method === 'HEAD' ? 'GET' : method;
  if (key) {
    const objectArn = `${bucketArn}/${key}`;
    for (const [name, actions] of Object.entries(S3_OBJECT_SUBRESOURCES)) {
      if (url.searchParams.has(name) && actions[verb]) return [{ action: actions[verb]!, resources: [objectArn] }];
    }
    const copySource = headers['x-amz-copy-source'];
    if (verb === 'PUT' && typeof copySource === 'string') {
      // CopyObject: s3:GetObject on the source, s3:PutObject on the destination.
      const source = decodeURIComponent(copySource.replace(/^\//, '').split('?')[0]!);
      return [
        { action: 's3:GetObject', resources: [`arn:aws:s3:::${source}`] },
        { action: 's3:PutObject', resources: [objectArn] },
      ];
    }
    const action = { GET: 's3:GetObject', PUT: 's3:PutObject', DELETE: 's3:DeleteObject', POST: 's3:PutObject' }[verb] ?? `s3:${verb}Object`;
    return [{ action, resources: [objectArn] }];
  }
  // DeleteObjects (POST ?delete) names its keys in the body; authorized as s3:DeleteObject on the bucket's objects.
  if (verb === 'POST' && url.searchParams.has('delete')) return [{ action: 's3:DeleteObject', resources: [`${bucketArn}/*`] }];
  if (verb === 'GET' && url.searchParams.has('uploads')) return [{ action: 's3:ListBucketMultipartUploads', resources: [bucketArn] }];
  if (verb === 'GET' && url.searchParams.has('location')) return [{ action: 's3:GetBucketLocation', resources: [bucketArn] }];
  const action = { GET: 's3:ListBucket', PUT: 's3:CreateBucket', DELETE: 's3:DeleteBucket' }[verb] ?? 's3:ListBucket';
  return [{ action, resources: [bucketArn] }];
}
