import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadStack } from '../lib/stack';
import { buildConsole, CONSOLE_DIST } from './build';

/**
 * `npm run deploy [-- --stage S --region R …]`: `serverless deploy` with the same arguments, then the console:
 * built once (one build serves every stage and account), its config.json written from the stack's outputs,
 * and both uploaded to the stack's console bucket. index.html and config.json are never cached for long; the
 * content-hashed assets are cached for good.
 */

export type StackOutputs = Record<string, string>;

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json' };

/** Amazon Root CA 1, the server CA of AWS IoT's ATS endpoints, from Node's own root store. */
export function amazonRootCa1(): string {
  const pem = ([...rootCertificates] as string[]).find((p) => /(^|\n)CN=Amazon Root CA 1$/m.test(new X509Certificate(p).subject));
  if (!pem) throw new Error('Amazon Root CA 1 is not in this Node.js build’s root certificates');
  return pem;
}

/** The console's config.json for a deployed stack, from its outputs. */
export function consoleConfigFrom(outputs: StackOutputs, settings: { region: string; stage: string }): Record<string, unknown> {
  const need = (name: string) => {
    const value = outputs[name];
    if (!value) throw new Error(`the stack has no output ${name}: deploy it first (npx serverless deploy)`);
    return value;
  };
  return {
    apiUrl: need('HttpApiUrl'),
    signIn: {
      domain: need('ConsoleSignInUrl'),
      clientId: need('ConsoleClientId'),
      issuer: `https://cognito-idp.${settings.region}.amazonaws.com/${need('UserPoolId')}`,
    },
    stage: settings.stage,
    serverCa: { fileName: 'AmazonRootCA1.pem', pem: amazonRootCa1() },
  };
}

export async function uploadConsole(s3: S3Client, bucket: string, dist: string, config: Record<string, unknown>): Promise<string[]> {
  const uploaded: string[] = [];
  const put = async (key: string, body: Buffer | string, cacheControl: string) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: TYPES[extname(key)] ?? 'application/octet-stream', CacheControl: cacheControl }));
    uploaded.push(key);
  };
  // Assets first: an index.html that names them is only put once they are there.
  for (const name of readdirSync(dist).filter((n) => n !== 'index.html')) await put(name, readFileSync(join(dist, name)), 'public, max-age=31536000, immutable');
  await put('config.json', JSON.stringify(config, null, 2), 'no-cache');
  await put('index.html', readFileSync(join(dist, 'index.html')), 'no-cache');
  return uploaded;
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(args: string[]): Promise<void> {
  const deployed = spawnSync('npx', ['serverless', 'deploy', ...args], { stdio: 'inherit', env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' } });
  if (deployed.status !== 0) process.exit(deployed.status ?? 1);
  const stage = option(args, 'stage') ?? 'dev';
  // serverless' --aws-profile, for the SDK's clients below too.
  const profile = option(args, 'aws-profile');
  if (profile) process.env.AWS_PROFILE = profile;
  const region = option(args, 'region') ?? process.env.AWS_REGION ?? 'us-east-1';
  // osls names the stack <service>-<stage>.
  const stackName = `${loadStack({ stage }).service}-${stage}`;
  const { Stacks } = await new CloudFormationClient({ region }).send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue!]));
  await buildConsole(CONSOLE_DIST);
  const keys = await uploadConsole(new S3Client({ region }), outputs.ConsoleBucketName ?? '', CONSOLE_DIST, consoleConfigFrom(outputs, { region, stage }));
  console.log(`console: ${keys.length} files uploaded; ${outputs.ConsoleUrl}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(`console deploy failed: ${error.message}`);
    process.exit(1);
  });
}
