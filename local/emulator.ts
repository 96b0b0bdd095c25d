import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { seedDemoCertificate } from './demo';
import { ENDPOINTS_FILE, removeEndpointsFile, SDK_ENVIRONMENT_SHOWN, writeEndpointsFile } from '../lib/local-endpoints';
import { PROJECT_ROOT } from '../lib/project-root';
import { DEFAULT_ACCOUNT_ID, LocalIotCore } from './local-iot-core';
import { deployStack, type DeployedStack } from './deploy-stack';

/**
 * `npm run emulator`: the local IoT Core as a long-running process, with the stack deployed into it.
 * Writes .local/endpoints.json for the CLI (`--local`) and prints the environment that points the AWS
 * SDK, the AWS CLI and `serverless invoke local` at it. Stops on Ctrl-C.
 *
 * It also seeds the demo certificate behind events/certificate-registered.json (PENDING_ACTIVATION,
 * device DEMO-0001 allow-listed), so `serverless invoke local` has something real to activate.
 */

export const DEFAULT_PORTS = { iot: 4580, dynamodb: 4581, http: 4582, mqtt: 8883, credentials: 8443, s3: 4583, sqs: 4584, sns: 4585, logs: 4586, userPool: 4587, cloudwatch: 4588, console: 4577, lambda: 4589, iotData: 4590 } as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'iot-port': { type: 'string', default: String(DEFAULT_PORTS.iot) },
      'dynamodb-port': { type: 'string', default: String(DEFAULT_PORTS.dynamodb) },
      'http-port': { type: 'string', default: String(DEFAULT_PORTS.http) },
      'mqtt-port': { type: 'string', default: String(DEFAULT_PORTS.mqtt) },
      'credentials-port': { type: 'string', default: String(DEFAULT_PORTS.credentials) },
      'sqs-port': { type: 'string', default: String(DEFAULT_PORTS.sqs) },
      's3-port': { type: 'string', default: String(DEFAULT_PORTS.s3) },
      'sns-port': { type: 'string', default: String(DEFAULT_PORTS.sns) },
      'logs-port': { type: 'string', default: String(DEFAULT_PORTS.logs) },
      'cloudwatch-port': { type: 'string', default: String(DEFAULT_PORTS.cloudwatch) },
      'user-pool-port': { type: 'string', default: String(DEFAULT_PORTS.userPool) },
      'console-port': { type: 'string', default: String(DEFAULT_PORTS.console) },
      'lambda-port': { type: 'string', default: String(DEFAULT_PORTS.lambda) },
      'iot-data-port': { type: 'string', default: String(DEFAULT_PORTS.iotData) },
      'state-dir': { type: 'string', default: resolve(PROJECT_ROOT, '.local') },
      stage: { type: 'string', default: 'dev' },
      param: { type: 'string', multiple: true },
      'no-throttling': { type: 'boolean' },
      'no-demo': { type: 'boolean' },
      'time-scale': { type: 'string', default: '60' },
      'endpoints-file': { type: 'string', default: ENDPOINTS_FILE },
      // Further accounts to deploy the stack into (seed 000: the same stage in A and B), labelled B, C, …
      account: { type: 'string', multiple: true },
    },
  });
  const endpointsFile = resolve(values['endpoints-file']);
  for (const flag of ['iot-port', 'dynamodb-port', 'http-port', 'mqtt-port', 'credentials-port', 'sqs-port', 's3-port', 'sns-port', 'logs-port', 'cloudwatch-port', 'user-pool-port', 'console-port', 'lambda-port', 'iot-data-port', 'time-scale'] as const) {
    if (!/^\d+$/.test(values[flag])) throw new Error(`--${flag} must be a whole number, got "${values[flag]}"`);
  }
  const extraAccounts = values.account ?? [];
  for (const accountId of extraAccounts) {
    if (!/^\d{12}$/.test(accountId)) throw new Error(`--account expects a 12-digit account id, got "${accountId}"`);
    if (accountId === DEFAULT_ACCOUNT_ID || extraAccounts.indexOf(accountId) !== extraAccounts.lastIndexOf(accountId)) throw new Error(`--account ${accountId} is given twice (A is ${DEFAULT_ACCOUNT_ID})`);
  }
  if (extraAccounts.length > 25) throw new Error('--account: at most 25 further accounts (labels B to Z)');
  const params = Object.fromEntries(
    (values.param ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--param expects name=value, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  process.env.SLS_TELEMETRY_DISABLED = '1';
  const core = await LocalIotCore.start({
    iotPort: Number(values['iot-port']),
    iotDataPort: Number(values['iot-data-port']),
    dynamodbPort: Number(values['dynamodb-port']),
    httpPort: Number(values['http-port']),
    sqsPort: Number(values['sqs-port']),
    s3Port: Number(values['s3-port']),
    snsPort: Number(values['sns-port']),
    logsPort: Number(values['logs-port']),
    cloudwatchPort: Number(values['cloudwatch-port']),
    userPoolPort: Number(values['user-pool-port']),
    console: { port: Number(values['console-port']) },
    lambdaPort: Number(values['lambda-port']),
    mqtt: { port: Number(values['mqtt-port']) },
    credentials: { port: Number(values['credentials-port']) },
    // The local root CA lives here, so devices' --cafile stays valid across restarts.
    stateDir: resolve(values['state-dir']),
    traffic: { throttling: !values['no-throttling'] },
    // Lambda's retry delays (1 and 2 minutes) divided by this factor.
    lambdaTimeScale: Number(values['time-scale']),
  });
  const deployed = await deployStack(core, { stage: values.stage, params });
  // Each further account has its own deployment; the HTTP API, user pool and console stay A's (one local HTTP API).
  const others: Array<{ label: string; accountId: string; deployed: DeployedStack }> = [];
  for (const [i, accountId] of extraAccounts.entries()) {
    others.push({ label: String.fromCharCode(66 + i), accountId, deployed: await deployStack(core, { stage: values.stage, params, accountId, httpApi: false }) });
  }
  Object.assign(process.env, core.sdkEnvironment());
  const demoCertificateId = values['no-demo'] ? undefined : await seedDemoCertificate(core, deployed.tableName);

  const endpoints = core.endpoints;
  if (others.length) endpoints.accounts = [{ label: 'A', accountId: endpoints.accountId }, ...others.map(({ label, accountId }) => ({ label, accountId }))];
  writeEndpointsFile(endpointsFile, endpoints);
  const accountLines = others.map(({ label, accountId, deployed: stack }) => {
    const account = core.registry.account(accountId);
    return `  account ${label}      ${accountId}: MQTT SNI ${account.endpoint('iot:Data-ATS')}, credentials SNI ${account.endpoint('iot:CredentialProvider')}
                 (host localhost, same ports); its own tables, queues, bucket ${stack.deviceDataBucket}, functions, rule, policies;
                 the CLI acts in it with --local --account ${label} (or AWS_ACCESS_KEY_ID=${accountId})`;
  });

  const env = core.sdkEnvironment();
  console.log(`local IoT Core is up (account ${others.length ? 'A ' : ''}${endpoints.accountId}, ${endpoints.region})
  control plane  ${endpoints.iot}
  data plane     ${endpoints.iotData}   (iot-data: Publish, Device Shadow get/update/delete/list, retained messages; shadows also on MQTT)
  DynamoDB       ${endpoints.dynamodb}
  MQTT (mTLS)    mqtts://${endpoints.mqtt?.host}:${endpoints.mqtt?.port}   (server CA: ${endpoints.rootCaFile})
  credentials    ${endpoints.credentials}/role-aliases/${deployed.roleAlias}/credentials   (mTLS, header x-amzn-iot-thingname)
  HTTP API       ${endpoints.http}   (POST /provisioning-claims with a JWT: npx iot-provisioner local token <user> --group technicians;
                 POST|DELETE /devices/{deviceId}/certificate signed with SigV4, the credentials below)
  console        ${endpoints.console}   (the provisioning console; sign in as a user of npx iot-provisioner local user add <email> --group technicians|operators)
  sign-in        ${endpoints.userPool ?? '(no user pool)'}   (the user pool's hosted sign-in: /oauth2/authorize, /oauth2/token, /login, /logout,
                 /.well-known/openid-configuration; users: npx iot-provisioner local user add <email> --group operators|technicians;
                 no MFA locally)
  CloudWatch     ${endpoints.cloudwatch}   (ListMetrics, GetMetricData over the functions' EMF metrics: the console's operator home)
  SQS            ${endpoints.sqs}   (SendMessage; the retirement queue feeds retireCertificate)
  S3             ${endpoints.s3}   (s3rver, path-style; emptied when the emulator stops)
  ResponseURLs   ${endpoints.iot}/_local/cloudformation-responses/<id>   (custom-resource answers: PUT, then GET)
  stack          ${deployed.stack.service}-${deployed.stack.stage}: table ${deployed.tableName}, device policy ${deployed.devicePolicyName},
                 fleet template ${deployed.templateName} (claim policy ${deployed.claimPolicyName})
  throttling     ${values['no-throttling'] ? 'off' : "AWS's default TPS quotas"}
  endpoints file ${endpointsFile}
${accountLines.map((line) => `${line}\n`).join('')}${demoCertificateId ? `  demo           certificate ${demoCertificateId} of DEMO-0001 is PENDING_ACTIVATION\n` : ''}
Point the AWS CLI, the SDK or \`serverless invoke local\` here with:
${SDK_ENVIRONMENT_SHOWN.map((key) => `  export ${key}=${env[key]}`)
  .join('\n')}

Sample events (events/) run with e.g.:
  npx serverless invoke local -f vendCertificate --path events/vend-certificate.json
  npx serverless invoke local -f certificateResource --path events/certificate-resource-create.json --param="certificateBucket=${deployed.certificateBucket}"

Ctrl-C stops it.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    removeEndpointsFile(endpointsFile);
    await core.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    console.error(`port in use (${e.message}); is another emulator running? Choose ports with --iot-port / --dynamodb-port.`);
  } else {
    console.error('emulator failed to start:', error);
  }
  process.exit(1);
});
