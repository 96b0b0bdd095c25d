import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PROJECT_ROOT } from './project-root';

/**
 * The contract between the local IoT Core and whatever talks to it (the CLI's `--local`, tests, the bench):
 * where `npm run emulator` writes its endpoints, what the file holds, and the environment under which the
 * AWS SDK and CLI reach those endpoints. One definition, read by both sides.
 */

/** The default endpoints file of `npm run emulator`. */
export const ENDPOINTS_FILE = resolve(PROJECT_ROOT, '.local/endpoints.json');

export interface LocalEndpoints {
  region: string;
  /** The default account (the one a 12-digit access key id does not otherwise name). */
  accountId: string;
  /**
   * The accounts the stack is deployed into, by label (`npm run emulator -- --account <id>`: A, B, …); the CLI's
   * `--local --account B` acts in B. Absent: the default account alone.
   */
  accounts?: Array<{ label: string; accountId: string }>;
  /** The control plane (REST-JSON, as the SDK's IoT client speaks it). */
  iot: string;
  dynamodb: string;
  /** The data plane (REST-JSON, as the SDK's IoT Data Plane client speaks it): Publish, Device Shadow. */
  iotData?: string;
  /** MQTT over mutual TLS. */
  mqtt?: { host: string; port: number };
  /** The credential provider (HTTPS, mutual TLS), e.g. https://localhost:8443. */
  credentials?: string;
  /** The HTTP API (JWT and IAM-authorized routes). */
  http?: string;
  /** The stand-in user pool's hosted sign-in (/oauth2/authorize, /oauth2/token, /login, /logout, JWKS). */
  userPool?: string;
  /** The S3-compatible store (path-style). */
  s3?: string;
  /** The SQS stand-in (JSON protocol). */
  sqs?: string;
  /** The SNS stand-in (Query protocol, Publish). */
  sns?: string;
  /** The console, as the local stand-in for its CloudFront distribution serves it. */
  console?: string;
  /** The CloudWatch Logs stand-in (JSON 1.1, FilterLogEvents on AWSIotLogsV2). */
  logs?: string;
  /** The CloudWatch stand-in (JSON 1.0, ListMetrics and GetMetricData over the functions' EMF metrics). */
  cloudwatch?: string;
  /** Lambda's Invoke API (the console's redrive re-invokes failed functions). */
  lambda?: string;
  /** The local root CA devices verify the server with (where AWS devices use AmazonRootCA1.pem). */
  rootCaFile?: string;
}

/**
 * The environment under which the AWS SDK and CLI talk to the local IoT Core: endpoints, region, and dummy
 * credentials whose access key id names the account (a 12-digit key id selects the account).
 */
export function sdkEnvironment(endpoints: LocalEndpoints, accountId: string = endpoints.accountId): Record<string, string> {
  return {
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_ACCESS_KEY_ID: accountId,
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_IOT: endpoints.iot,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    ...(endpoints.iotData ? { AWS_ENDPOINT_URL_IOT_DATA_PLANE: endpoints.iotData } : {}),
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs } : {}),
    ...(endpoints.sns ? { AWS_ENDPOINT_URL_SNS: endpoints.sns } : {}),
    ...(endpoints.logs ? { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: endpoints.logs } : {}),
    ...(endpoints.cloudwatch ? { AWS_ENDPOINT_URL_CLOUDWATCH: endpoints.cloudwatch } : {}),
    ...(endpoints.lambda ? { AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda } : {}),
    // s3rver serves path-style URLs (http://host/<bucket>/<key>).
    ...(endpoints.s3 ? { AWS_ENDPOINT_URL_S3: endpoints.s3, S3_FORCE_PATH_STYLE: 'true' } : {}),
    // The SDK warns about Node 20 on every process start; the local tools are not where that matters.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** The variables `sdkEnvironment` sets, in the order `npm run emulator` prints them. */
export const SDK_ENVIRONMENT_SHOWN = [
  'AWS_ENDPOINT_URL_IOT',
  'AWS_ENDPOINT_URL_IOT_DATA_PLANE',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_SNS',
  'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS',
  'AWS_ENDPOINT_URL_CLOUDWATCH',
  'AWS_ENDPOINT_URL_LAMBDA',
  'AWS_ENDPOINT_URL_S3',
  'S3_FORCE_PATH_STYLE',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
] as const;

export function writeEndpointsFile(file: string, endpoints: LocalEndpoints): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(endpoints, null, 2) + '\n');
}

export function removeEndpointsFile(file: string): void {
  rmSync(file, { force: true });
}

/** The endpoints file as written; `undefined` when there is none (the emulator is not running). */
export function readEndpointsFile(file: string = ENDPOINTS_FILE): LocalEndpoints | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<LocalEndpoints>;
  if (typeof parsed.iot !== 'string' || typeof parsed.dynamodb !== 'string' || typeof parsed.region !== 'string' || typeof parsed.accountId !== 'string') {
    throw new Error(`${file} is not an endpoints file of the local IoT Core (region, accountId, iot and dynamodb are required)`);
  }
  return parsed as LocalEndpoints;
}
