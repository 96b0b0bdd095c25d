import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { ourBuildOptions } from '../../bench/bundle';

/**
 * Which AWS calls a function can make, read from its Lambda bundle: the handler built as `serverless package`
 * builds it (serverless.yml's custom.esbuild settings and esbuild-plugins.cjs, through bench/bundle.ts), and
 * the SDK command modules esbuild kept in it (metafile). A command the bundle holds is one the code can
 * send; nobody keeps the list by hand.
 */

const ROOT = resolve(__dirname, '../..');

/** The IAM service prefix of each SDK client the functions use; a bundle with another client fails until it is added. */
const CLIENT_SERVICES: Record<string, string> = {
  'client-iot': 'iot',
  // iot-data's Publish is the IAM action iot:Publish (on `topic/<topic>`).
  'client-iot-data-plane': 'iot',
  'client-dynamodb': 'dynamodb',
  'client-sqs': 'sqs',
  'client-sns': 'sns',
  'client-s3': 's3',
  'client-lambda': 'lambda',
  'client-cloudwatch-logs': 'logs',
  'client-cloudwatch': 'cloudwatch',
};

/**
 * @aws-sdk/lib-dynamodb's document commands, and the DynamoDB action each one is (its low-level command:
 * GetCommand sends GetItem, …). ExecuteStatement and its kin are PartiQL, whose action depends on the
 * statement: not mapped, so a bundle using them fails until someone decides.
 */
const DOCUMENT_COMMANDS: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

/**
 * Operations whose IAM action has another name. The SAR lists actions, not the operations they authorize;
 * these come from each operation's "Permissions" section in the Amazon S3 API Reference:
 * HeadObject — "you must have the s3:GetObject permission"; ListObjectsV2 — "you must have permission to
 * perform the s3:ListBucket action"; DeleteObjects — each key needs s3:DeleteObject.
 */
const OPERATION_ACTIONS: Record<string, string> = {
  's3:HeadObject': 's3:GetObject',
  's3:ListObjectsV2': 's3:ListBucket',
  's3:DeleteObjects': 's3:DeleteObject',
  // Lambda's Invoke operation is authorized by the lambda:InvokeFunction action (Lambda developer guide,
  // "Actions, resources, and condition keys for AWS Lambda": InvokeFunction "grants permission to invoke a function").
  'lambda:Invoke': 'lambda:InvokeFunction',
};

/**
 * Commands a client holds for itself and sends only when a setting our clients never set turns them on:
 * DynamoDB's DescribeEndpoints (endpoint discovery, off unless `endpointDiscoveryEnabled`; its client
 * config references the command whatever the setting) and S3's CreateSession (S3 Express One Zone
 * directory buckets only, whose names end in `--x-s3`; the stack's buckets are general purpose).
 */
const CLIENT_INTERNAL: Record<string, string> = {
  'dynamodb:DescribeEndpoints': 'endpoint discovery, off by default (shared/aws/clients.ts does not enable it)',
  's3:CreateSession': 'S3 Express directory buckets only; the certificate bucket is a general-purpose bucket',
};

export interface SentCommand {
  /** Where esbuild took it from, e.g. `@aws-sdk/client-iot/dist-es/commands/DescribeCertificateCommand.js`. */
  module: string;
  /** `service:Operation`, e.g. `iot:DescribeCertificate`, `dynamodb:GetItem` (for lib-dynamodb's GetCommand). */
  operation: string;
  /** The IAM action that authorizes it. */
  action: string;
}

export interface BundleCalls {
  entry: string;
  commands: SentCommand[];
  /** The IAM actions the bundle can need, sorted, without duplicates. */
  actions: string[];
  /** Commands left out, each with the reason (CLIENT_INTERNAL). */
  ignored: Array<{ operation: string; reason: string }>;
}


const COMMAND_MODULE = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb)\/dist-(?:es|cjs)\/commands\/(\w+)Command\.js$/;

/** The SDK commands a module path names (exported for the test of this reading). */
export function commandOf(module: string): Omit<SentCommand, 'action'> | undefined {
  const match = COMMAND_MODULE.exec(module);
  if (!match) return undefined;
  const [, pkg, name] = match as unknown as [string, string, string];
  if (pkg === 'lib-dynamodb') {
    const item = DOCUMENT_COMMANDS[name];
    if (!item) throw new Error(`${module}: no DynamoDB action known for lib-dynamodb's ${name}Command (bundle-commands.ts DOCUMENT_COMMANDS)`);
    return { module, operation: `dynamodb:${item}` };
  }
  const service = CLIENT_SERVICES[pkg];
  if (!service) throw new Error(`${module}: no IAM service prefix known for @aws-sdk/${pkg} (bundle-commands.ts CLIENT_SERVICES)`);
  return { module, operation: `${service}:${name}` };
}

export const actionOf = (operation: string): string => OPERATION_ACTIONS[operation] ?? operation;

/** Builds `entry` (relative to the project root) with the functions' esbuild settings, writing nothing. */
export async function bundleCalls(entry: string): Promise<BundleCalls> {
  const result = await build({
    ...ourBuildOptions(),
    entryPoints: [join(ROOT, entry)],
    outdir: join(ROOT, '.esbuild', 'role-coverage'),
    write: false,
    metafile: true,
  });
  const output = Object.values((result.metafile as Metafile).outputs).find((o) => o.entryPoint);
  if (!output) throw new Error(`no output for ${entry}`);
  const commands: SentCommand[] = [];
  const ignored: BundleCalls['ignored'] = [];
  // Only what esbuild kept: a module whose code was shaken out has no bytes in the output.
  for (const [module, input] of Object.entries(output.inputs)) {
    if (input.bytesInOutput === 0) continue;
    const command = commandOf(module);
    if (!command) continue;
    const reason = CLIENT_INTERNAL[command.operation];
    if (reason) ignored.push({ operation: command.operation, reason });
    else commands.push({ ...command, action: actionOf(command.operation) });
  }
  commands.sort((a, b) => a.operation.localeCompare(b.operation));
  return { entry, commands, actions: [...new Set(commands.map((c) => c.action))].sort(), ignored };
}
