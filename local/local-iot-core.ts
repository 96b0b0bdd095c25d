import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsIssuer } from './iot-core/aws-issuer';
import { ControlPlaneServer } from './iot-core/control-plane';
import { DataPlane } from './iot-core/data-plane';
import { DataPlaneServer } from './iot-core/data-plane-server';
import { CredentialsEndpoint } from './iot-core/credentials-endpoint';
import { MqttEndpoint } from './iot-core/mqtt-endpoint';
import { localTls } from './iot-core/tls-material';
import { DeviceGateway, type ConnectResult } from './iot-core/device-gateway';
import type { IotAccount } from './iot-core/registry/account';
import { IotRegistry } from './iot-core/registry/iot-registry';
import type { RuleEngine, TopicRule } from './iot-core/rules';
import { TrafficControl, type FaultOptions, type TrafficOptions } from './iot-core/traffic';
import { startDynamoDb, type DynamoDbOutageMode, type LocalDynamoDb } from './dynamodb';
import type { AsyncLambda } from './lambda/async-lambda';
import { LocalMetrics } from './lambda/local-metrics';
import type { WorkerRuntime } from './lambda/worker-runtime';
import type { HttpRoute } from './http/http-api';
import { HttpApiHost, type UserPoolSettings } from './http/http-api-host';
import type { LocalUserPool } from './cognito/user-pool';
import { LocalSqs } from './sqs/local-sqs';
import { LocalLambdaApi } from './lambda/invoke-api';
import { LocalSns } from './sns/local-sns';
import { LocalLogs } from './logs/local-logs';
import { LocalCloudWatch } from './cloudwatch/local-cloudwatch';
import { ConsoleHost } from './console/console-host';
import type { CorsConfiguration } from './http/cors';
import { LocalSchedules } from './schedules';
import { LocalS3 } from './s3/local-s3';
import { authorizerOf, LocalIam } from './iam/local-iam';
import { accessKeyIdOf } from './iam/access-keys';
import { dynamoDbAuthorizer, iotAuthorizer, iotDataAuthorizer, s3Authorizer, sqsAuthorizer } from './iam/guards';
import { ResponseReceiver } from './cloudformation/response-receiver';
import { LocalFunctions, type FailureMessage, type FunctionOptions } from './local-functions';
import { cloudFormationResponses, localApi } from './local-api';
import { sdkEnvironment, type LocalEndpoints } from '../lib/local-endpoints';

/**
 * The local IoT Core: the control plane (HTTP, REST-JSON) over the registry's services, the device gateway
 * (first connects), the MQTT endpoint and the credential provider (mutual TLS), the rules engine and
 * Lambda's invocation models (local-functions.ts), DynamoDB (dynalite), SQS, S3 and the HTTP API.
 * `deployStack()` (deploy-stack.ts) puts the stack of serverless.yml into it — tables, policies, topic rule,
 * CA, and the real handlers, run with the SDK pointed here by AWS_ENDPOINT_URL_* variables.
 *
 * `start()` builds every part, servers listening, before the core that holds them exists.
 */

export const DEFAULT_ACCOUNT_ID = '123456789012';

export interface LocalIotCoreOptions {
  region?: string;
  accountId?: string;
  host?: string;
  iotPort?: number;
  /** Port of the data plane (iot-data: Publish, Device Shadow; port 0 or unset: any free port). */
  iotDataPort?: number;
  dynamodbPort?: number;
  traffic?: TrafficOptions;
  /** Divides Lambda's retry delays (one and two minutes on AWS). */
  lambdaTimeScale?: number;
  /** Concurrent invocations per function. */
  lambdaConcurrency?: number;
  now?: () => Date;
  /** Port of the local HTTP API (started by startHttpApi). */
  httpPort?: number;
  /** Port of the stand-in user pool's hosted sign-in (started with the HTTP API). */
  userPoolPort?: number;
  /** Port of the local SQS (SendMessage, event source mappings). */
  sqsPort?: number;
  /** Port of the local S3 (s3rver, path-style). */
  s3Port?: number;
  /** Port of the local SNS (Publish; each topic keeps what was published to it). */
  snsPort?: number;
  /** Port of the local CloudWatch Logs (FilterLogEvents on AWS IoT's AWSIotLogsV2 Connect entries). */
  logsPort?: number;
  /** Port of the local CloudWatch (ListMetrics, GetMetricData over the functions' EMF metrics). */
  cloudwatchPort?: number;
  /** Serve the console (console/dist, built when missing) as its CloudFront distribution would (port 0: any free port). */
  console?: { port?: number };
  /** Port of Lambda's Invoke API. */
  lambdaPort?: number;
  /** Start the MQTT/TLS endpoint (port 0: any free port). */
  mqtt?: { port?: number };
  /** Start the credential provider endpoint (HTTPS with mutual TLS). */
  credentials?: { port?: number };
  /** Where the local root CA is kept (default: a fresh temporary directory). */
  stateDir?: string;
}

export type { LocalEndpoints } from '../lib/local-endpoints';
export type { FailureMessage } from './local-functions';

/** What a local IoT Core is made of, each part already built (and listening, for servers). */
interface LocalIotCoreParts {
  registry: IotRegistry;
  iam: LocalIam;
  traffic: TrafficControl;
  gateway: DeviceGateway;
  issuer: AwsIssuer;
  functions: LocalFunctions;
  http: HttpApiHost;
  controlPlane: ControlPlaneServer;
  dataPlane: DataPlane;
  dataPlaneServer: DataPlaneServer;
  dynamo: LocalDynamoDb;
  sqs: LocalSqs;
  s3: LocalS3;
  sns: LocalSns;
  logs: LocalLogs;
  cloudwatch: LocalCloudWatch;
  lambdaApi: LocalLambdaApi;
  schedules: LocalSchedules;
  cloudFormationResponses: ResponseReceiver;
  endpoints: LocalEndpoints;
  mqtt?: MqttEndpoint;
  credentials?: CredentialsEndpoint;
  metrics: LocalMetrics;
}

export class LocalIotCore {
  readonly registry: IotRegistry;
  /**
   * The roles of the deployed stacks and the temporary keys issued for them (local/iam/local-iam.ts): every
   * call signed with such a key is checked against its role by the control plane, DynamoDB, SQS and S3.
   */
  readonly iam: LocalIam;
  readonly traffic: TrafficControl;
  readonly gateway: DeviceGateway;
  readonly issuer: AwsIssuer;
  readonly sqs: LocalSqs;
  readonly s3: LocalS3;
  readonly sns: LocalSns;
  /** AWS IoT's log of broker connects, as CloudWatch Logs serves it (AWSIotLogsV2). */
  readonly logs: LocalLogs;
  /** CloudWatch's metric reads (ListMetrics, GetMetricData) over `metrics`. */
  readonly cloudwatch: LocalCloudWatch;
  /** The stack's `schedule` events (local/schedules.ts), time-scaled like Lambda's retries. */
  readonly schedules: LocalSchedules;
  /** CloudFormation custom-resource answers PUT to `cloudFormationResponseUrl(id)`. */
  readonly cloudFormationResponses: ResponseReceiver;
  readonly mqtt: MqttEndpoint | undefined;
  readonly credentials: CredentialsEndpoint | undefined;
  readonly endpoints: LocalEndpoints;
  /** What the console's config.json names besides the endpoints: set by deployStack once the user pool exists. */
  consoleSettings: { issuer: string; clientId: string; stage: string } | undefined = undefined;
  private consoleHost: ConsoleHost | undefined = undefined;
  /** The functions' EMF metrics, as CloudWatch would extract them (local/lambda/local-metrics.ts; GET /_local/metrics). */
  readonly metrics: LocalMetrics;
  private readonly functions: LocalFunctions;
  private readonly http: HttpApiHost;
  private readonly controlPlane: ControlPlaneServer;
  /** The data plane: iot-data Publish, the Device Shadow service (HTTP and MQTT), retained messages. */
  readonly dataPlane: DataPlane;
  private readonly dataPlaneServer: DataPlaneServer;
  private readonly dynamo: LocalDynamoDb;
  private readonly lambdaApi: LocalLambdaApi;
  private readonly runtimes: WorkerRuntime[] = [];

  private constructor(parts: LocalIotCoreParts) {
    this.registry = parts.registry;
    this.iam = parts.iam;
    this.traffic = parts.traffic;
    this.gateway = parts.gateway;
    this.issuer = parts.issuer;
    this.functions = parts.functions;
    this.http = parts.http;
    this.controlPlane = parts.controlPlane;
    this.dataPlane = parts.dataPlane;
    this.dataPlaneServer = parts.dataPlaneServer;
    this.dynamo = parts.dynamo;
    this.lambdaApi = parts.lambdaApi;
    this.sqs = parts.sqs;
    this.s3 = parts.s3;
    this.sns = parts.sns;
    this.logs = parts.logs;
    this.cloudwatch = parts.cloudwatch;
    this.schedules = parts.schedules;
    this.cloudFormationResponses = parts.cloudFormationResponses;
    this.endpoints = parts.endpoints;
    this.metrics = parts.metrics;
    this.mqtt = parts.mqtt;
    this.credentials = parts.credentials;
  }

  static async start(options: LocalIotCoreOptions = {}): Promise<LocalIotCore> {
    // The SDK warns about Node 20 on every process start; the local IoT Core is not where that matters.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const region = options.region ?? 'us-east-1';
    const defaultAccountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    const host = options.host ?? '127.0.0.1';
    const registry = new IotRegistry({
      region,
      defaultAccountId,
      // GetTopicRule / ListTopicRules read the rules each account's rules engine holds (created below).
      topicRules: (accountId) => functions.rules(accountId).list(),
      setTopicRuleDisabled: (accountId, ruleName, disabled) => functions.rules(accountId).setDisabled(ruleName, disabled),
      ...(options.now ? { now: options.now } : {}),
      // With the MQTT endpoint up, the default account's data endpoint is this machine: devices connect to
      // `localhost` (the server certificate's name). Other accounts keep AWS-style names, reachable with
      // SNI set to them (aws-iot-reference §2: SNI selects the account).
      ...(options.mqtt || options.credentials
        ? {
            endpointAddress: (account, type) =>
              account.accountId === defaultAccountId &&
              (((type === 'iot:Data-ATS' || type === 'iot:Data') && options.mqtt) || (type === 'iot:CredentialProvider' && options.credentials))
                ? 'localhost'
                : IotRegistry.awsEndpointAddress(account, type),
          }
        : {}),
    });
    const traffic = new TrafficControl(options.traffic);
    const metrics = new LocalMetrics();
    const functions = new LocalFunctions({
      region,
      defaultAccountId,
      timeScale: options.lambdaTimeScale ?? 1,
      concurrency: options.lambdaConcurrency ?? 10,
    });
    const invoke = (arn: string, event: unknown, timeoutMs: number) => functions.invoke(arn, event, timeoutMs);
    const gateway = new DeviceGateway(registry, traffic, (account, topic, payload) => functions.publish(account.accountId, topic, payload), options.now);
    const http = new HttpApiHost({
      invoke,
      accountId: defaultAccountId,
      region,
      host,
      port: options.httpPort ?? 0,
      userPoolPort: options.userPoolPort ?? 0,
      ...(options.now ? { now: options.now } : {}),
    });
    const issuer = await AwsIssuer.create();
    const iam = new LocalIam(options.now);
    const dynamo = await startDynamoDb(options.dynamodbPort ?? 0, host, { defaultAccountId, authorize: dynamoDbAuthorizer(iam, region) });
    const responses = new ResponseReceiver();
    let mqtt: MqttEndpoint | undefined;
    const controlPlane = new ControlPlaneServer({
      registry,
      issuer,
      traffic,
      // The MQTT endpoint starts below; its log is read when asked for.
      localRoute: localApi({ traffic, functions, dynamo, http, gateway, connections: () => mqtt?.log ?? [], metrics }),
      rawLocalRoute: cloudFormationResponses(responses),
      authorize: iotAuthorizer(iam, region),
    });
    const iot = await controlPlane.listen(options.iotPort ?? 0, host);
    // The MQTT endpoint starts below; a message reaches its devices once it is up.
    const dataPlane = new DataPlane({
      deliver: (account, topic, payload, qos) => mqtt?.deliver(account, topic, payload, qos),
      rules: (account, topic, payload, source) => functions.publish(account.accountId, topic, payload, source),
      ...(options.now ? { now: options.now } : {}),
    });
    const dataPlaneServer = new DataPlaneServer({ registry, data: dataPlane, authorize: iotDataAuthorizer(iam, region) });
    const iotData = await dataPlaneServer.listen(options.iotDataPort ?? 0, host);
    const sqs = new LocalSqs({
      region,
      timeScale: options.lambdaTimeScale ?? 1,
      // The stack's dead-letter target is its failure queue, which the local IoT Core keeps as `failures`.
      onDeadLetter: (targetArn, queueName, message) => functions.failures.push({ source: 'sqs', queueName, ...message, queueArn: targetArn }),
      authorize: sqsAuthorizer(iam, region),
    });
    const sqsUrl = await sqs.listen(options.sqsPort ?? 0, host);
    const s3 = await LocalS3.start({ port: options.s3Port ?? 0, host, region, authorize: s3Authorizer(iam) });
    s3.registerAccount(defaultAccountId);
    // s3rver checks signatures against the key pairs it knows: every temporary key is one.
    iam.onSession((session) => s3.registerKey(session.accountId, session.accessKeyId, session.secretAccessKey));
    const sns = new LocalSns({ region });
    const snsUrl = await sns.listen(options.snsPort ?? 0, host);
    // The broker's CONNECTs that named a client id and a certificate, as AWS IoT logs them.
    const logs = new LocalLogs(() =>
      (mqtt?.log ?? []).flatMap((entry) =>
        (entry.event === 'connected' || entry.event === 'refused') && entry.clientId !== undefined && entry.certificateId !== undefined && entry.accountId !== undefined
          ? [{
              at: entry.at,
              accountId: entry.accountId,
              clientId: entry.clientId,
              certificateId: entry.certificateId,
              outcome: entry.event,
              ...(entry.event === 'refused' ? { detail: entry.detail.replace(/^connect [^:]*: /, '') } : {}),
            }]
          : [],
      ),
    );
    const logsUrl = await logs.listen(options.logsPort ?? 0, host);
    const cloudwatch = new LocalCloudWatch(metrics, options.now);
    const cloudwatchUrl = await cloudwatch.listen(options.cloudwatchPort ?? 0, host);
    const lambdaApi = new LocalLambdaApi({ region, defaultAccountId, target: functions });
    const authorize = authorizerOf(iam, accessKeyIdOf);
    for (const service of [sns, logs, cloudwatch, lambdaApi]) service.authorize = authorize;
    logs.region = region;
    const lambdaUrl = await lambdaApi.listen(options.lambdaPort ?? 0, host);
    const schedules = new LocalSchedules({ timeScale: options.lambdaTimeScale ?? 1, ...(options.now ? { now: options.now } : {}) });
    const endpoints: LocalEndpoints = { region, accountId: defaultAccountId, iot, iotData, dynamodb: dynamo.url, sqs: sqsUrl, s3: s3.url, sns: snsUrl, logs: logsUrl, cloudwatch: cloudwatchUrl, lambda: lambdaUrl };
    const tls = options.mqtt || options.credentials ? await localTls(options.stateDir ?? mkdtempSync(join(tmpdir(), 'local-iot-')), region) : undefined;
    if (tls) endpoints.rootCaFile = tls.rootCaFile;
    const device = tls && { registry, gateway, issuer, tls: tls.server, ...(options.now ? { now: options.now } : {}) };
    let credentials: CredentialsEndpoint | undefined;
    if (device && options.credentials) {
      credentials = new CredentialsEndpoint({ ...device, iam });
      const port = await credentials.listen(options.credentials.port ?? 0, host);
      endpoints.credentials = `https://localhost:${port}`;
    }
    // $aws/events/… (lifecycle and Jobs events): to the account's subscribers allowed to receive them, and to its rules.
    const publishEvent = (account: IotAccount, topic: string, payload: Buffer) => {
      mqtt?.deliver(account, topic, payload, 0);
      functions.publish(account.accountId, topic, JSON.parse(payload.toString('utf8')));
    };
    registry.publishEvent = publishEvent;
    if (device && options.mqtt) {
      mqtt = new MqttEndpoint({
        ...device,
        invoke,
        onDevicePublish: (account, topic, payload, source) => dataPlane.onDevicePublish(account, topic, payload, source),
        retained: dataPlane.retained,
        // Lifecycle events: to the account's subscribers allowed to receive them, and to its rules.
        publishEvent,
      });
      const port = await mqtt.listen(options.mqtt.port ?? 0);
      endpoints.mqtt = { host: 'localhost', port };
    }
    const core = new LocalIotCore({
      metrics,
      registry,
      iam,
      traffic,
      gateway,
      issuer,
      functions,
      http,
      controlPlane,
      dataPlane,
      dataPlaneServer,
      dynamo,
      sqs,
      s3,
      sns,
      logs,
      cloudwatch,
      lambdaApi,
      schedules,
      cloudFormationResponses: responses,
      endpoints,
      ...(mqtt ? { mqtt } : {}),
      ...(credentials ? { credentials } : {}),
    });
    if (options.console) await core.startConsole(options.console.port ?? 0, host);
    return core;
  }

  get defaultAccount(): IotAccount {
    return this.registry.account();
  }

  /** The stack's failure queue: Lambda on-failure records, rule error actions, SQS dead letters. */
  get failures(): FailureMessage[] {
    return this.functions.failures;
  }

  /** What each function returned, in completion order (async invocations discard it on AWS). */
  get results(): Array<{ functionName: string; event: unknown; result: unknown }> {
    return this.functions.results;
  }

  /**
   * The environment under which the AWS SDK and CLI talk to this IoT Core: endpoints, region, and dummy
   * credentials whose access key id names the account.
   */
  sdkEnvironment(accountId: string = this.registry.defaultAccountId): Record<string, string> {
    return sdkEnvironment(this.endpoints, accountId);
  }

  /** A ResponseURL for a custom-resource request whose answer the test or demo then reads back. */
  cloudFormationResponseUrl(id: string): string {
    return `${this.endpoints.iot}/_local/cloudformation-responses/${encodeURIComponent(id)}`;
  }

  configureTraffic(options: TrafficOptions): void {
    this.traffic.configure(options);
  }

  setFaults(faults: FaultOptions): void {
    this.traffic.setFaults(faults);
  }

  /** Takes DynamoDB down (for `durationMs`, or until called with `undefined`), or brings it back (see dynamodb.ts). */
  setDynamoDbOutage(mode: DynamoDbOutageMode | undefined, durationMs?: number): void {
    this.dynamo.setOutage(mode, durationMs);
  }

  rules(account: IotAccount = this.defaultAccount): RuleEngine {
    return this.functions.rules(account.accountId);
  }

  addRule(rule: TopicRule, account: IotAccount = this.defaultAccount): void {
    this.functions.addRule(rule, account.accountId, account.now());
  }

  publish(account: IotAccount, topic: string, payload: unknown): string[] {
    return this.functions.publish(account.accountId, topic, payload);
  }

  /** A device connects with its certificate chain (PEM, device certificate first) and TLS server name. */
  firstConnect(chainPem: string, serverName?: string): ConnectResult {
    return this.gateway.firstConnect(chainPem, serverName);
  }

  /** Registers a Lambda function that topic rules can invoke. */
  addFunction(options: FunctionOptions): AsyncLambda {
    return this.functions.add(options);
  }

  /**
   * Invokes a function synchronously (InvocationType RequestResponse), as IoT calls a pre-provisioning
   * hook: the answer, or an error when the function fails or `timeoutMs` passes.
   */
  invokeFunction(functionArn: string, event: unknown, timeoutMs: number): Promise<unknown> {
    return this.functions.invoke(functionArn, event, timeoutMs);
  }

  /** Resolves once every function has finished its queued work, retries included. */
  async idle(): Promise<void> {
    // A handler's work can publish events that queue more work: wait until a pass finds nothing to do.
    while (!this.functions.isIdle() || !this.sqs.isIdle()) {
      await this.functions.idle();
      await this.sqs.idle();
    }
  }

  addRuntime(runtime: WorkerRuntime): void {
    this.runtimes.push(runtime);
  }

  /** Adds an HTTP API route (starting the local HTTP API on first use); JWT-authorized routes get a token issuer. */
  addHttpRoute(route: HttpRoute): void {
    this.http.addRoute(route);
  }

  /** Starts the HTTP API with the routes added so far (the `http` entry of endpoints.json). */
  async startHttpApi(port?: number): Promise<string> {
    this.endpoints.http = await this.http.start(port);
    if (this.http.signInUrl) this.endpoints.userPool = this.http.signInUrl;
    return this.endpoints.http;
  }

  /**
   * An ID token for a local user, as the stack's Cognito user pool would issue it after sign-in, with
   * `groups` as its `cognito:groups` (a user added with `addUser` has their own groups by default).
   */
  issueToken(username: string, options: { groups?: readonly string[]; ttlSeconds?: number } = {}): Promise<string> {
    return this.http.issueToken(username, options);
  }

  /** The HTTP API's CORS, from the deployed template (deployStack calls it). */
  configureHttpCors(cors: CorsConfiguration | undefined): void {
    this.http.configureCors(cors);
  }

  /** The user pool of the deployed stack (deployStack calls it): its issuer, groups and app clients. */
  configureUserPool(settings: UserPoolSettings): void {
    this.http.configureUserPool(settings);
  }

  /** The stand-in user pool: its users, groups and clients (tests add users and callback URLs here). */
  userPool(): Promise<LocalUserPool> {
    return this.http.pool();
  }

  /** The console's config.json, as console/deploy.ts writes it on AWS, for this local IoT Core. */
  consoleConfig(): Record<string, unknown> {
    const settings = this.consoleSettings;
    if (!settings || !this.endpoints.http || !this.endpoints.userPool) return { error: 'no stack with a user pool and an HTTP API is deployed' };
    return {
      apiUrl: this.endpoints.http,
      signIn: { domain: this.endpoints.userPool, clientId: settings.clientId, issuer: settings.issuer },
      stage: settings.stage,
      serverCa: { fileName: 'root-ca.pem', pem: this.endpoints.rootCaFile ? readFileSync(this.endpoints.rootCaFile, 'utf8') : '' },
      ...(this.endpoints.mqtt ? { deviceEndpoint: { host: this.endpoints.mqtt.host, port: this.endpoints.mqtt.port } } : {}),
      notice: 'Local sign-in (the local IoT Core’s stand-in user pool): MFA is not asked.',
    };
  }

  /** Starts the console host (once); its URL (the `console` entry of endpoints.json). */
  async startConsole(port = 0, host = '127.0.0.1'): Promise<string> {
    if (!this.consoleHost) {
      this.consoleHost = new ConsoleHost({
        config: () => this.consoleConfig(),
        connectSources: () => [this.endpoints.http, this.endpoints.userPool].filter((u): u is string => !!u).map((u) => new URL(u).origin),
      });
      const url = await this.consoleHost.listen(port, host);
      // Cognito takes http:// callback URLs only for localhost: the console is reached by that name.
      this.endpoints.console = url.replace('//127.0.0.1:', '//localhost:');
    }
    return this.endpoints.console!;
  }

  async close(): Promise<void> {
    await this.consoleHost?.close();
    this.schedules.close();
    await this.http.close();
    await this.mqtt?.close();
    await this.credentials?.close();
    await Promise.all(this.runtimes.map((runtime) => runtime.close()));
    await this.sqs.close();
    await this.sns.close();
    await this.logs.close();
    await this.cloudwatch.close();
    await this.lambdaApi.close();
    await this.s3.close();
    await this.controlPlane.close();
    await this.dataPlaneServer.close();
    await this.dynamo.close();
  }
}
