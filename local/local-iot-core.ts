import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsIssuer } from './iot-core/aws-issuer';
import { ControlPlaneServer } from './iot-core/control-plane';
import { CredentialsEndpoint } from './iot-core/credentials-endpoint';
import { MqttEndpoint } from './iot-core/mqtt-endpoint';
import { localTls } from './iot-core/tls-material';
import { invalid } from './iot-core/errors';
import { DeviceGateway, type ConnectResult } from './iot-core/device-gateway';
import type { IotAccount } from './iot-core/registry/account';
import { IotRegistry } from './iot-core/registry/iot-registry';
import { RuleEngine, type TopicRule } from './iot-core/rules';
import { TrafficControl, type FaultOptions, type TrafficOptions } from './iot-core/traffic';
import { randomUUID } from 'node:crypto';
import { startDynamoDb, type DynamoDbOutageMode, type LocalDynamoDb } from './dynamodb';
import { AsyncLambda, type FailureRecord, type LambdaHandler } from './lambda/async-lambda';
import { WorkerRuntime } from './lambda/worker-runtime';
import { LocalHttpApi, type HttpRoute } from './http/http-api';
import { LocalJwtIssuer } from './http/jwt';
import { LocalSqs } from './sqs/local-sqs';
import { LocalS3 } from './s3/local-s3';
import { ResponseReceiver } from './cloudformation/response-receiver';
import { sdkEnvironment, type LocalEndpoints } from '../lib/local-endpoints';


/**
 * The local IoT Core: the control plane (HTTP, REST-JSON), the device gateway (first connects), the rules
 * engine, Lambda's async invocation model with its on-failure destination, and DynamoDB (dynalite).
 * `deployStack` puts the stack of serverless.yml into it — table, device policy, topic rule, CA, and the
 * real handlers, loaded in-process with the SDK pointed here by AWS_ENDPOINT_URL_* variables.
 */

export const DEFAULT_ACCOUNT_ID = '123456789012';

export interface LocalIotCoreOptions {
  region?: string;
  accountId?: string;
  host?: string;
  iotPort?: number;
  dynamodbPort?: number;
  traffic?: TrafficOptions;
  /** Divides Lambda's retry delays (one and two minutes on AWS). */
  lambdaTimeScale?: number;
  /** Concurrent invocations per function. */
  lambdaConcurrency?: number;
  now?: () => Date;
  /** Port of the local HTTP API (started by startHttpApi). */
  httpPort?: number;
  /** Port of the local SQS (SendMessage, event source mappings). */
  sqsPort?: number;
  /** Port of the local S3 (s3rver, path-style). */
  s3Port?: number;
  /** Start the MQTT/TLS endpoint (port 0: any free port). */
  mqtt?: { port?: number };
  /** Start the credential provider endpoint (HTTPS with mutual TLS). */
  credentials?: { port?: number };
  /** Where the local root CA is kept (default: a fresh temporary directory). */
  stateDir?: string;
}

export type { LocalEndpoints } from '../lib/local-endpoints';

/** A message in the stack's failure queue: a Lambda on-failure record, or a rule error action message. */
export type FailureMessage =
  | { source: 'lambda'; functionName: string; record: FailureRecord }
  | { source: 'rule'; ruleName: string; error: string; payload: unknown }
  | { source: 'sqs'; queueName: string; messageId: string; body: string; receiveCount: number };


/** Validates fault settings sent to POST /_local/traffic. */
function parseFaults(value: unknown): FaultOptions {
  if (!value || typeof value !== 'object') throw invalid('faults must be an object');
  const { throttleRate, errorRate, errorCode, operations } = value as Record<string, unknown>;
  const rate = (name: string, x: unknown) => {
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || x < 0 || x > 1) throw invalid(`faults.${name} must be a number from 0 to 1`);
    return x;
  };
  if (errorCode !== undefined && errorCode !== 'InternalFailureException' && errorCode !== 'ServiceUnavailableException') {
    throw invalid('faults.errorCode must be InternalFailureException or ServiceUnavailableException');
  }
  if (operations !== undefined && (!Array.isArray(operations) || operations.some((o) => typeof o !== 'string'))) {
    throw invalid('faults.operations must be a list of operation names');
  }
  const t = rate('throttleRate', throttleRate);
  const e = rate('errorRate', errorRate);
  return {
    ...(t !== undefined ? { throttleRate: t } : {}),
    ...(e !== undefined ? { errorRate: e } : {}),
    ...(errorCode ? { errorCode } : {}),
    ...(operations ? { operations: operations as string[] } : {}),
  };
}

export class LocalIotCore {
  readonly registry: IotRegistry;
  readonly traffic: TrafficControl;
  readonly gateway: DeviceGateway;
  readonly failures: FailureMessage[] = [];
  /** What each function returned, in completion order (async invocations discard it on AWS). */
  readonly results: Array<{ functionName: string; event: unknown; result: unknown }> = [];
  private readonly ruleEngines = new Map<string, RuleEngine>();
  private readonly lambdas = new Map<string, AsyncLambda>();
  private readonly runtimes: WorkerRuntime[] = [];
  private readonly pendingRoutes: HttpRoute[] = [];
  private httpApi?: LocalHttpApi;
  private jwt?: LocalJwtIssuer;
  private readonly invokers = new Map<string, { handler: LambdaHandler; functionName: string; timeoutSeconds: number }>();
  private controlPlane!: ControlPlaneServer;
  private dynamo!: LocalDynamoDb;
  issuer!: AwsIssuer;
  sqs!: LocalSqs;
  s3!: LocalS3;
  /** CloudFormation custom-resource answers PUT to `cloudFormationResponseUrl(id)`. */
  readonly cloudFormationResponses = new ResponseReceiver();
  mqtt?: MqttEndpoint;
  credentials?: CredentialsEndpoint;
  endpoints!: LocalEndpoints;

  private constructor(private readonly options: LocalIotCoreOptions) {
    const region = options.region ?? 'us-east-1';
    const defaultAccountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
    this.registry = new IotRegistry({
      region,
      defaultAccountId,
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
    this.traffic = new TrafficControl(options.traffic);
    this.gateway = new DeviceGateway(this.registry, this.traffic, (account, topic, payload) => this.publish(account, topic, payload), options.now);
  }

  static async start(options: LocalIotCoreOptions = {}): Promise<LocalIotCore> {
    // The SDK warns about Node 20 on every process start; the local IoT Core is not where that matters.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const core = new LocalIotCore(options);
    const host = options.host ?? '127.0.0.1';
    core.issuer = await AwsIssuer.create();
    core.controlPlane = new ControlPlaneServer({
      registry: core.registry,
      issuer: core.issuer,
      traffic: core.traffic,
      localRoute: (method, path, body) => core.localRoute(method, path, body),
      rawLocalRoute: (method, path, raw, contentType) => {
        const id = decodeURIComponent(path.slice('/cloudformation-responses/'.length));
        if (!/^[\w.:-]{1,128}$/.test(id)) return undefined;
        if (method === 'PUT') return { received: core.cloudFormationResponses.receive(id, raw, contentType).problems.length === 0 };
        if (method === 'GET') return core.cloudFormationResponses.received(id).length ? { responses: core.cloudFormationResponses.received(id) } : undefined;
        return undefined;
      },
    });
    const iot = await core.controlPlane.listen(options.iotPort ?? 0, host);
    core.dynamo = await startDynamoDb(options.dynamodbPort ?? 0, host);
    core.sqs = new LocalSqs({
      region: core.registry.region,
      timeScale: options.lambdaTimeScale ?? 1,
      // The stack's dead-letter target is its failure queue, which the local IoT Core keeps as `failures`.
      onDeadLetter: (_target, queueName, message) => core.failures.push({ source: 'sqs', queueName, ...message }),
    });
    const sqs = await core.sqs.listen(options.sqsPort ?? 0, host);
    core.s3 = await LocalS3.start({ port: options.s3Port ?? 0, host, region: core.registry.region });
    core.s3.registerAccount(core.registry.defaultAccountId);
    core.endpoints = { region: core.registry.region, accountId: core.registry.defaultAccountId, iot, dynamodb: core.dynamo.url, sqs, s3: core.s3.url };
    const tls =
      options.mqtt || options.credentials
        ? await localTls(options.stateDir ?? mkdtempSync(join(tmpdir(), 'local-iot-')), core.registry.region)
        : undefined;
    if (tls) core.endpoints.rootCaFile = tls.rootCaFile;
    const device = tls && {
      registry: core.registry,
      gateway: core.gateway,
      issuer: core.issuer,
      tls: tls.server,
      ...(options.now ? { now: options.now } : {}),
    };
    if (device && options.credentials) {
      core.credentials = new CredentialsEndpoint({
        ...device,
        onIssued: (accountId, accessKeyId, secretAccessKey) => core.s3.registerKey(accountId, accessKeyId, secretAccessKey),
      });
      const port = await core.credentials.listen(options.credentials.port ?? 0, host);
      core.endpoints.credentials = `https://localhost:${port}`;
    }
    if (device && options.mqtt) {
      core.mqtt = new MqttEndpoint({
        ...device,
        invoke: (arn, event, timeoutMs) => core.invokeFunction(arn, event, timeoutMs),
      });
      const port = await core.mqtt.listen(options.mqtt.port ?? 0);
      core.endpoints.mqtt = { host: 'localhost', port };
    }
    return core;
  }

  get defaultAccount(): IotAccount {
    return this.registry.account();
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
    let engine = this.ruleEngines.get(account.accountId);
    if (!engine) {
      engine = new RuleEngine(
        (functionArn, event) => {
          // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
          const lambda = this.lambdas.get(functionArn.split(':').slice(0, 7).join(':'));
          if (!lambda) return false;
          lambda.invoke(event);
          return true;
        },
        (ruleName, error) => this.failures.push({ source: 'rule', ruleName, error, payload: null }),
      );
      this.ruleEngines.set(account.accountId, engine);
    }
    return engine;
  }

  addRule(rule: TopicRule, account: IotAccount = this.defaultAccount): void {
    this.rules(account).addRule(rule);
  }

  publish(account: IotAccount, topic: string, payload: unknown): string[] {
    return this.rules(account).publish(topic, payload);
  }

  /** A device connects with its certificate chain (PEM, device certificate first) and TLS server name. */
  firstConnect(chainPem: string, serverName?: string): ConnectResult {
    return this.gateway.firstConnect(chainPem, serverName);
  }

  /** Registers a Lambda function that topic rules can invoke. */
  addFunction(options: {
    functionName: string;
    handler: LambdaHandler;
    maximumRetryAttempts?: number;
    maximumEventAgeSeconds?: number;
    timeoutSeconds?: number;
    accountId?: string;
  }): AsyncLambda {
    const accountId = options.accountId ?? this.registry.defaultAccountId;
    const functionArn = `arn:aws:lambda:${this.registry.region}:${accountId}:function:${options.functionName}`;
    const lambda = new AsyncLambda({
      functionName: options.functionName,
      functionArn,
      handler: options.handler,
      concurrency: this.options.lambdaConcurrency ?? 10,
      timeScale: this.options.lambdaTimeScale ?? 1,
      ...(options.maximumRetryAttempts !== undefined ? { maximumRetryAttempts: options.maximumRetryAttempts } : {}),
      ...(options.maximumEventAgeSeconds !== undefined ? { maximumEventAgeSeconds: options.maximumEventAgeSeconds } : {}),
      ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
      onFailure: (record) => this.failures.push({ source: 'lambda', functionName: options.functionName, record }),
      onResult: (event, result) => this.results.push({ functionName: options.functionName, event, result }),
    });
    this.lambdas.set(functionArn, lambda);
    this.invokers.set(functionArn, { handler: options.handler, functionName: options.functionName, timeoutSeconds: options.timeoutSeconds ?? 30 });
    return lambda;
  }

  /**
   * Invokes a function synchronously (InvocationType RequestResponse), as IoT calls a pre-provisioning
   * hook: the answer, or an error when the function fails or `timeoutMs` passes.
   */
  async invokeFunction(functionArn: string, event: unknown, timeoutMs: number): Promise<unknown> {
    const target = this.invokers.get(functionArn.split(':').slice(0, 7).join(':'));
    if (!target) throw new Error(`function ${functionArn} does not exist`);
    const budget = Math.min(timeoutMs, target.timeoutSeconds * 1000);
    const deadline = Date.now() + budget;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        target.handler(structuredClone(event), {
          functionName: target.functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: functionArn,
          memoryLimitInMB: '256',
          awsRequestId: randomUUID(),
          logGroupName: `/aws/lambda/${target.functionName}`,
          logStreamName: 'local',
          callbackWaitsForEmptyEventLoop: true,
          getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${budget} ms`)), budget);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once every function has finished its queued work, retries included. */
  async idle(): Promise<void> {
    // A handler's work can publish events that queue more work: wait until a pass finds nothing to do.
    while ([...this.lambdas.values()].some((lambda) => !lambda.isIdle()) || !this.sqs.isIdle()) {
      await Promise.all([...this.lambdas.values()].map((lambda) => lambda.idle()));
      await this.sqs.idle();
    }
  }

  addRuntime(runtime: WorkerRuntime): void {
    this.runtimes.push(runtime);
  }

  /** Adds an HTTP API route (starting the local HTTP API on first use); JWT-authorized routes get a token issuer. */
  addHttpRoute(route: HttpRoute): void {
    if (route.authorizer && !this.jwt) {
      this.jwt = new LocalJwtIssuer(route.authorizer.issuer, route.authorizer.audience[0] ?? '', this.options.now);
    }
    this.pendingRoutes.push(route);
  }

  /** Starts the HTTP API with the routes added so far (the `http` entry of endpoints.json). */
  async startHttpApi(port = this.options.httpPort ?? 0): Promise<string> {
    if (!this.httpApi) {
      this.httpApi = new LocalHttpApi({
        invoke: (arn, event, timeoutMs) => this.invokeFunction(arn, event, timeoutMs),
        jwt: this.jwt ?? new LocalJwtIssuer('https://local.invalid', 'none', this.options.now),
        accountId: this.registry.defaultAccountId,
        region: this.registry.region,
        ...(this.options.now ? { now: this.options.now } : {}),
      });
      this.endpoints.http = await this.httpApi.listen(port, this.options.host ?? '127.0.0.1');
    }
    for (const route of this.pendingRoutes.splice(0)) this.httpApi.addRoute(route);
    return this.endpoints.http!;
  }

  /** A JWT for a local user, as the stack's Cognito user pool would issue it after sign-in. */
  issueToken(username: string, options: { ttlSeconds?: number } = {}): string {
    if (!this.jwt) throw invalid('no JWT authorizer is deployed');
    return this.jwt.issue(username, options);
  }

  private async localRoute(method: string, path: string, body: Record<string, unknown>): Promise<unknown> {
    if (method === 'GET' && path === '/health') return { ok: true };
    if (method === 'GET' && path === '/failures') return { messages: this.failures };
    if (method === 'GET' && path === '/stats') return this.traffic.stats;
    if (method === 'POST' && path === '/traffic') {
      // e.g. {"throttling": false} or {"faults": {"throttleRate": 0.3, "errorRate": 0.05}}
      if (typeof body.throttling === 'boolean' || typeof body.timeScale === 'number') {
        this.configureTraffic({
          ...(typeof body.throttling === 'boolean' ? { throttling: body.throttling } : {}),
          ...(typeof body.timeScale === 'number' ? { timeScale: body.timeScale } : {}),
        });
      }
      if (body.faults !== undefined) this.setFaults(parseFaults(body.faults));
      return { ok: true };
    }
    if (method === 'POST' && path === '/dynamodb') {
      // e.g. {"outage": "unavailable", "durationMs": 5000}, or {"outage": null} to end it
      const { outage, durationMs } = body;
      if (outage !== null && outage !== 'unavailable' && outage !== 'reset' && outage !== 'stall') {
        throw invalid('outage must be "unavailable", "reset", "stall" or null');
      }
      if (durationMs !== undefined && (typeof durationMs !== 'number' || durationMs < 1 || durationMs > 3_600_000)) throw invalid('durationMs must be 1-3600000');
      this.setDynamoDbOutage(outage ?? undefined, durationMs as number | undefined);
      return { ok: true };
    }
    if (method === 'POST' && path === '/token') {
      const username = body.username;
      if (typeof username !== 'string' || !/^[\w.@+-]{1,128}$/.test(username)) throw invalid('username must be 1-128 of [A-Za-z0-9_.@+-]');
      const ttl = body.ttlSeconds;
      if (ttl !== undefined && (typeof ttl !== 'number' || ttl < 1 || ttl > 86_400)) throw invalid('ttlSeconds must be 1-86400');
      return { token: this.issueToken(username, { ...(typeof ttl === 'number' ? { ttlSeconds: ttl } : {}) }) };
    }
    if (method === 'POST' && path === '/connect') {
      const result = this.firstConnect(String(body.certificatePem ?? ''), typeof body.serverName === 'string' ? body.serverName : undefined);
      return result.accepted
        ? { accepted: true, certificateId: result.certificateId }
        : { accepted: false, stage: result.stage, reason: result.reason, certificateId: result.certificateId };
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.httpApi?.close();
    await this.mqtt?.close();
    await this.credentials?.close();
    await Promise.all(this.runtimes.map((runtime) => runtime.close()));
    await this.sqs.close();
    await this.s3.close();
    await this.controlPlane.close();
    await this.dynamo.close();
  }
}
