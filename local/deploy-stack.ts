import { failureQueueView } from './sqs/failure-queue-view';
import { resolve } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import type { AsyncLambda } from './lambda/async-lambda';
import { WorkerRuntime } from './lambda/worker-runtime';
import type { LocalIotCore } from './local-iot-core';
import type { IotAccount } from './iot-core/registry/account';
import type { CorsConfiguration } from './http/cors';
import type { IdentityPolicy } from './iam/local-iam';
import { evaluateIntrinsics, loadStack, PROJECT_ROOT, type Stack } from '../lib/stack';
import namesModule = require('../resources/names.cjs');

/**
 * Puts serverless.yml's stack into the local IoT Core for one account: each CloudFormation resource the
 * local IoT Core models is created from its definition in resources/ and functions/<name>/resources.cjs
 * (through lib/stack.ts), with the names of resources/names.cjs, and each function runs from
 * its handler module in Lambda-like containers, with the environment serverless.yml gives it. Each
 * AWS::IAM::Role's inline policies go into the local IAM (core.iam), and each function's execution
 * environments run with temporary credentials of its role (serverless.yml `role`), as Lambda gives them
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): what a function calls is checked against its
 * role. Logs and Lambda resource policies are not modelled (the package test checks them in the template).
 */

export interface DeployOptions {
  stage?: string;
  params?: Record<string, string>;
  accountId?: string;
  /**
   * Serve the stack's HTTP API, user pool and console (default true). The local HTTP API is one: a stack
   * deployed into a second account leaves it to the first (its functions run, its routes are not served).
   */
  httpApi?: boolean;
  /** Extra environment for every function (e.g. POWERTOOLS_LOG_LEVEL). */
  environment?: Record<string, string>;
  /** Run these functions (by name) from another module, e.g. a built bundle, instead of their TypeScript source. */
  modules?: Record<string, { modulePath: string; exportName?: string }>;
  /**
   * Changes a role's inline policies before they go into the local IAM (tests: a role without one permission).
   * Called with the role's logical id and its policies, intrinsics resolved.
   */
  editRole?: (logicalId: string, policies: IdentityPolicy[]) => IdentityPolicy[];
}

export interface DeployedStack {
  stack: Stack;
  functions: Map<string, AsyncLambda>;
  /** The container pool behind each function (tests and benchmarks may start containers ahead). */
  runtimes: Map<string, WorkerRuntime>;
  tableName: string;
  ledgerTableName: string;
  timelineTableName: string;
  devicePolicyName: string;
  claimPolicyName: string;
  templateName: string;
  thingGroupName: string;
  quarantineGroupName: string;
  thingTypeName: string;
  roleAlias: string;
  deviceDataBucket: string;
  certificateBucket: string;
  userPoolClientId: string;
  /** The console's app client (authorization code + PKCE at the hosted sign-in). */
  consoleClientId: string;
  caCertificateId?: string;
}

export const LOCAL_USER_POOL_ID = 'us-east-1_localpool';
export const LOCAL_USER_POOL_CLIENT_ID = 'localappclient0000000000';
export const LOCAL_CONSOLE_CLIENT_ID = 'localconsoleclient000000';

type Props = Record<string, unknown>;

export async function deployStack(core: LocalIotCore, options: DeployOptions = {}): Promise<DeployedStack> {
  const registry = core.registry;
  const region = registry.region;
  const accountId = options.accountId ?? registry.defaultAccountId;
  const account = registry.account(accountId);
  const stack = loadStack({
    region,
    ...(options.stage ? { stage: options.stage } : {}),
    ...(options.params ? { params: options.params } : {}),
  });
  const { Resources } = stack.resources;
  const names = namesModule.namesFor(stack.service, stack.stage);
  const generatedName = (logicalId: string) => namesModule.generatedName(stack.service, stack.stage, logicalId);
  const functionArn = (name: string) => `arn:aws:lambda:${region}:${accountId}:function:${namesModule.functionName(stack.service, stack.stage, name)}`;
  const attributes: Record<string, string> = {
    'ProvisioningFailureQueue.Arn': `arn:aws:sqs:${region}:${accountId}:${names.failureQueue}`,
  };
  const context = {
    accountId,
    region,
    refs: {
      // The local SQS serves the failure queue (hostQueue below): its URL is the local SQS's, as the SDK sends to a queue URL's host.
      ProvisioningFailureQueue: `${core.sqs.endpoint}/${accountId}/${names.failureQueue}`,
      UserPool: LOCAL_USER_POOL_ID,
      UserPoolClient: LOCAL_USER_POOL_CLIENT_ID,
      ConsoleClient: LOCAL_CONSOLE_CLIENT_ID,
    } as Record<string, string>,
    attributes,
  };
  for (const [name, logicalId] of Object.entries(namesModule.FUNCTIONS)) attributes[`${logicalId}.Arn`] = functionArn(name);
  const queueNameOf = (logicalId: string) => {
    const name = Resources[logicalId]!.Properties.QueueName;
    return typeof name === 'string' ? name : generatedName(logicalId);
  };
  for (const [logicalId, resource] of Object.entries(Resources)) {
    if (resource.Type === 'AWS::SQS::Queue' && logicalId !== 'ProvisioningFailureQueue') {
      // Without a QueueName CloudFormation names queues <stack>-<logicalId>-<suffix>; locally without the suffix.
      const queue = core.sqs.createQueue(accountId, queueNameOf(logicalId));
      context.refs[logicalId] = queue.url;
      attributes[`${logicalId}.Arn`] = queue.arn;
    }
    if (resource.Type === 'AWS::IAM::Role') attributes[`${logicalId}.Arn`] = `arn:aws:iam::${accountId}:role/${generatedName(logicalId)}`;
    if (resource.Type === 'AWS::S3::Bucket') {
      // The template names no bucket: CloudFormation generates a unique one (<stack>-<logicalid>-<suffix>;
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html),
      // so two accounts deploying one stage never collide in S3's global namespace. Locally the default account's
      // has no suffix and another account's ends in its account id.
      const suffix = accountId === registry.defaultAccountId ? '' : `-${accountId}`;
      const bucket = generatedName(logicalId.toLowerCase()).slice(0, 63 - suffix.length) + suffix;
      context.refs[logicalId] = bucket;
      attributes[`${logicalId}.Arn`] = `arn:aws:s3:::${bucket}`;
    }
    if (resource.Type === 'AWS::SNS::Topic') {
      // Ref of a topic is its ARN; the topic keeps what is published to it (local/sns/local-sns.ts).
      const topicName = resource.Properties.TopicName;
      context.refs[logicalId] = core.sns.createTopic(accountId, typeof topicName === 'string' ? topicName : generatedName(logicalId));
    }
    if (resource.Type === 'AWS::CloudFront::Distribution') {
      // The local console host stands in for the distribution (local/console/console-host.ts).
      attributes[`${logicalId}.DomainName`] = new URL(core.endpoints.console ?? 'http://localhost:4577/').host;
      context.refs[logicalId] = `LOCAL${logicalId.toUpperCase()}`;
    }
    if (resource.Type === 'AWS::IoT::JobTemplate') {
      // Ref is the JobTemplateId, Fn::GetAtt Arn its ARN (the AWS::IoT::JobTemplate reference page).
      const jobTemplateId = String(evaluateIntrinsics(resource.Properties.JobTemplateId, context));
      context.refs[logicalId] = jobTemplateId;
      attributes[`${logicalId}.Arn`] = registry.account(accountId).arn(`jobtemplate/${jobTemplateId}`);
    }
    if (resource.Type === 'AWS::DynamoDB::Table') {
      attributes[`${logicalId}.Arn`] = `arn:aws:dynamodb:${region}:${accountId}:table/${String(resource.Properties.TableName)}`;
    }
  }
  const propsOf = (logicalId: string) => evaluateIntrinsics(Resources[logicalId]!.Properties, context) as Props;
  const ofType = (type: string) => Object.keys(Resources).filter((id) => Resources[id]!.Type === type);
  // The failure queue is the local IoT Core's failure list (core.failures); SQS serves it to the console's functions.
  core.sqs.hostQueue(accountId, names.failureQueue, failureQueueView(core.failures, (queueName) => `arn:aws:sqs:${region}:${accountId}:${queueName}`, accountId));
  for (const id of ofType('AWS::SQS::Queue')) {
    if (id === 'ProvisioningFailureQueue') continue;
    const q = propsOf(id) as { VisibilityTimeout?: number; RedrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number } };
    core.sqs.createQueue(accountId, queueNameOf(id), {
      ...(q.VisibilityTimeout !== undefined ? { visibilityTimeoutSeconds: q.VisibilityTimeout } : {}),
      ...(q.RedrivePolicy ? { redrive: q.RedrivePolicy } : {}),
    });
  }
  const tolerateExisting = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
    }
  };

  for (const id of ofType('AWS::S3::Bucket')) await core.s3.createBucket(accountId, context.refs[id]!);
  core.s3.registerAccount(accountId);

  // Tables (point-in-time recovery, SSE and TTL are AWS settings dynalite does not model).
  const dynamodb = new DynamoDBClient({
    endpoint: core.endpoints.dynamodb,
    region,
    credentials: { accessKeyId: accountId, secretAccessKey: 'local' },
  });
  try {
    for (const id of ofType('AWS::DynamoDB::Table')) {
      const t = propsOf(id) as { TableName: string; AttributeDefinitions: never; KeySchema: never; GlobalSecondaryIndexes?: never };
      try {
        await dynamodb.send(
          new CreateTableCommand({
            TableName: t.TableName,
            AttributeDefinitions: t.AttributeDefinitions,
            KeySchema: t.KeySchema,
            // The registry's sparse expiry indexes (resources/storage.cjs); dynalite keeps GSIs as DynamoDB does.
            ...(t.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: t.GlobalSecondaryIndexes } : {}),
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
    }
  } finally {
    dynamodb.destroy();
  }

  // Roles: their inline policies (intrinsics resolved). AWS managed policies (ManagedPolicyArns) have no
  // document here: only the roles AWS IoT itself assumes use them, and no local call is signed with those.
  for (const id of ofType('AWS::IAM::Role')) {
    const role = propsOf(id) as { Policies?: Array<{ PolicyName: string; PolicyDocument: unknown }> };
    const policies = (role.Policies ?? []).map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument }));
    core.iam.defineRole(attributes[`${id}.Arn`]!, options.editRole ? options.editRole(id, policies) : policies);
  }

  for (const id of ofType('AWS::IoT::Policy')) {
    const p = propsOf(id) as { PolicyName: string; PolicyDocument: unknown };
    if (!account.policies.has(p.PolicyName)) account.policies.create(p.PolicyName, { policyDocument: JSON.stringify(p.PolicyDocument) });
    context.refs[id] = p.PolicyName;
  }
  for (const id of ofType('AWS::IoT::ThingGroup')) {
    const g = propsOf(id) as { ThingGroupName: string };
    tolerateExisting(() => account.things.createGroup(g.ThingGroupName, {}));
  }
  for (const id of ofType('AWS::IoT::ThingType')) {
    const t = propsOf(id) as { ThingTypeName: string; ThingTypeProperties?: Record<string, unknown> };
    account.things.createType(t.ThingTypeName, { ...(t.ThingTypeProperties ? { thingTypeProperties: t.ThingTypeProperties } : {}) });
  }
  for (const id of ofType('AWS::IoT::RoleAlias')) {
    const alias = propsOf(id) as { RoleAlias: string; RoleArn: string; CredentialDurationSeconds?: number };
    tolerateExisting(() =>
      account.roleAliases.create(alias.RoleAlias, {
        roleArn: alias.RoleArn,
        ...(alias.CredentialDurationSeconds ? { credentialDurationSeconds: alias.CredentialDurationSeconds } : {}),
      }),
    );
  }
  let caCertificateId: string | undefined;
  for (const id of ofType('AWS::IoT::CACertificate')) {
    const ca = propsOf(id) as { CACertificatePem: string; CertificateMode: string; VerificationCertificatePem?: string };
    tolerateExisting(() => {
      caCertificateId = account.certificates.registerCa({
        caCertificate: ca.CACertificatePem,
        certificateMode: ca.CertificateMode,
        setAsActive: true,
        allowAutoRegistration: true,
        ...(ca.VerificationCertificatePem ? { verificationCertificate: ca.VerificationCertificatePem } : {}),
      }).certificateId;
    });
  }

  const functions = new Map<string, AsyncLambda>();
  const runtimes = new Map<string, WorkerRuntime>();
  for (const fn of stack.functions) {
    // Each function runs in its own execution environments (worker threads), with the environment of
    // serverless.yml plus the SDK settings that point it at this IoT Core.
    const module = options.modules?.[fn.name];
    // Lambda's execution role: the environment's credentials are a session of it, named after the function.
    const roleArn = attributes[`${fn.role}.Arn`];
    if (!roleArn) throw new Error(`function ${fn.name}: its role ${fn.role || '(none)'} is not an AWS::IAM::Role of the stack`);
    const session = core.iam.assumeRole(roleArn, fn.functionName);
    const runtime = new WorkerRuntime({
      modulePath: module?.modulePath ?? resolve(PROJECT_ROOT, fn.modulePath),
      exportName: module?.exportName ?? fn.exportName,
      environment: {
        ...core.sdkEnvironment(accountId),
        // serverless.yml may give a variable a CloudFormation value (a queue URL: `!Ref RetirementQueue`).
        ...Object.fromEntries(Object.entries(fn.environment).map(([key, value]) => [key, String(evaluateIntrinsics(value, context))])),
        ...options.environment,
        AWS_ACCESS_KEY_ID: session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
        AWS_SESSION_TOKEN: session.sessionToken,
        // What Lambda sets in every execution environment (Powertools reads some of it).
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        // The local IoT Core collects the EMF lines (core.metrics): on even where POWERTOOLS_DEV would turn them
        // off, and where this process turns them off for handlers loaded in it (test/support/setup-env.ts).
        POWERTOOLS_METRICS_DISABLED: options.environment?.POWERTOOLS_METRICS_DISABLED ?? 'false',
      },
      onMetrics: (document) => core.metrics.record(document, accountId),
    });
    core.addRuntime(runtime);
    runtimes.set(fn.name, runtime);
    functions.set(
      fn.name,
      core.addFunction({
        functionName: fn.functionName,
        handler: runtime.handler,
        accountId,
        maximumRetryAttempts: fn.maximumRetryAttempts,
        maximumEventAgeSeconds: fn.maximumEventAgeSeconds,
        ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: fn.reservedConcurrency } : {}),
        timeoutSeconds: fn.timeoutSeconds,
      }),
    );
    for (const route of options.httpApi === false ? [] : fn.httpRoutes) {
      const authorizer = route.authorizer ? stack.httpAuthorizers[route.authorizer] : undefined;
      core.addHttpRoute({
        method: route.method,
        path: route.path,
        functionArn: functionArn(fn.name),
        ...(route.iam ? { iam: true } : {}),
        ...(authorizer
          ? {
              authorizer: {
                issuer: String(evaluateIntrinsics(authorizer.issuerUrl, context)),
                audience: (authorizer.audience ?? []).map((a) => String(evaluateIntrinsics(a, context))),
              },
            }
          : {}),
      });
    }
  }

  for (const fn of stack.functions) {
    for (const source of fn.sqsEvents) {
      const queueArn = String(evaluateIntrinsics(source.arn, context));
      const arn = functionArn(fn.name);
      core.sqs.addConsumer(queueArn, {
        batchSize: source.batchSize,
        reportBatchItemFailures: source.reportBatchItemFailures,
        invoke: (event) => core.invokeFunction(arn, event, fn.timeoutSeconds * 1000),
      });
    }
  }

  for (const fn of stack.functions) {
    fn.scheduleEvents.forEach((schedule, index) => {
      if (!schedule.enabled) return;
      const lambda = functions.get(fn.name)!;
      core.schedules.add({
        // osls names the rule's logical id <Function>EventsRuleSchedule<n>; its ARN is the event's `resources`.
        ruleArn: `arn:aws:events:${region}:${accountId}:rule/${fn.functionName}-schedule-${index + 1}`,
        expression: schedule.expression,
        accountId,
        region,
        // EventBridge invokes a schedule's target asynchronously (retries and the on-failure destination apply).
        invoke: (event) => lambda.invoke(event),
      });
    });
  }

  for (const id of ofType('AWS::IoT::TopicRule')) {
    const rule = propsOf(id) as {
      RuleName: string;
      TopicRulePayload: {
        Sql: string;
        Actions: Array<{ Lambda?: { FunctionArn: string } }>;
        Description?: string;
        RuleDisabled?: boolean;
        AwsIotSqlVersion?: string;
        ErrorAction?: Record<string, unknown>;
      };
    };
    const payload = rule.TopicRulePayload;
    core.addRule(
      {
        ruleName: rule.RuleName,
        sql: payload.Sql,
        actions: payload.Actions.map((a) => (a.Lambda ? { lambda: { functionArn: a.Lambda.FunctionArn } } : {})),
        // Kept as deployed so that GetTopicRule shows them (CloudFormation's PascalCase, the API's camelCase).
        ...(payload.Description !== undefined ? { description: payload.Description } : {}),
        ...(payload.RuleDisabled !== undefined ? { ruleDisabled: payload.RuleDisabled } : {}),
        ...(payload.AwsIotSqlVersion !== undefined ? { awsIotSqlVersion: payload.AwsIotSqlVersion } : {}),
        ...(payload.ErrorAction ? { errorAction: camelCased(payload.ErrorAction) as Record<string, unknown> } : {}),
      },
      account,
    );
  }
  let templateName = '';
  for (const id of ofType('AWS::IoT::ProvisioningTemplate')) {
    const t = propsOf(id) as {
      TemplateName: string;
      TemplateBody: string;
      ProvisioningRoleArn: string;
      Description?: string;
      Enabled?: boolean;
      TemplateType?: string;
      PreProvisioningHook?: { TargetArn: string; PayloadVersion?: string };
    };
    templateName = t.TemplateName;
    tolerateExisting(() =>
      account.provisioning.createTemplate({
        templateName: t.TemplateName,
        templateBody: t.TemplateBody,
        provisioningRoleArn: t.ProvisioningRoleArn,
        ...(t.Description ? { description: t.Description } : {}),
        enabled: t.Enabled ?? false,
        ...(t.TemplateType ? { type: t.TemplateType } : {}),
        ...(t.PreProvisioningHook
          ? { preProvisioningHook: { targetArn: t.PreProvisioningHook.TargetArn, payloadVersion: t.PreProvisioningHook.PayloadVersion ?? '2020-04-01' } }
          : {}),
      }),
    );
  }

  // Job templates: CloudFormation's properties (AWS::IoT::JobTemplate, @aws-cdk/aws-service-spec) are CreateJobTemplate's
  // inputs in PascalCase; the exponential rate is ExponentialRolloutRate there, exponentialRate in the API.
  for (const id of ofType('AWS::IoT::JobTemplate')) {
    const t = propsOf(id) as unknown as CfnJobTemplate;
    if (account.jobs.findTemplate(t.JobTemplateId)) continue;
    account.jobs.createTemplate(t.JobTemplateId, jobTemplateInput(t));
  }

  // The user pool behind the JWT authorizer: its groups and app clients, as the template declares them.
  const jwtIssuers = options.httpApi === false ? [] : Object.values(stack.httpAuthorizers).map((a) => String(evaluateIntrinsics(a.issuerUrl, context)));
  if (jwtIssuers.length) {
    core.configureUserPool({
      issuer: jwtIssuers[0]!,
      groups: ofType('AWS::Cognito::UserPoolGroup').map((id) => String(propsOf(id).GroupName)),
      clients: ofType('AWS::Cognito::UserPoolClient').map((id) => {
        const client = propsOf(id) as { CallbackURLs?: string[]; LogoutURLs?: string[]; AllowedOAuthFlows?: string[]; AllowedOAuthFlowsUserPoolClient?: boolean };
        return {
          clientId: context.refs[id] ?? `local${id.toLowerCase()}`,
          callbackUrls: client.CallbackURLs ?? [],
          logoutUrls: client.LogoutURLs ?? [],
          oauth: client.AllowedOAuthFlowsUserPoolClient === true && (client.AllowedOAuthFlows ?? []).includes('code'),
        };
      }),
    });
  }

  if (jwtIssuers.length && core.endpoints.console) {
    // The console's sign-in returns to wherever the local console host listens (before the hosted sign-in
    // starts: it reads its clients then).
    (await core.userPool()).allowCallback(LOCAL_CONSOLE_CLIENT_ID, core.endpoints.console);
    core.consoleSettings = { issuer: jwtIssuers[0]!, clientId: LOCAL_CONSOLE_CLIENT_ID, stage: stack.stage };
  }
  const cors = stack.resources.extensions?.HttpApi?.Properties.CorsConfiguration;
  if (cors && options.httpApi !== false) {
    const evaluated = evaluateIntrinsics(cors, context) as CorsConfiguration;
    // The template allows https://<the distribution's domain>; its local stand-in serves http: its origin.
    if (core.endpoints.console) evaluated.AllowOrigins = [...evaluated.AllowOrigins, new URL(core.endpoints.console).origin];
    core.configureHttpCors(evaluated);
  }
  if (options.httpApi !== false && stack.functions.some((fn) => fn.httpRoutes.length > 0)) await core.startHttpApi();

  const name = (logicalId: string, property: string) => String(propsOf(logicalId)[property]);
  return {
    stack,
    functions,
    runtimes,
    tableName: name('DeviceRegistryTable', 'TableName'),
    ledgerTableName: name('ProvisioningLedgerTable', 'TableName'),
    timelineTableName: name('DeviceTimelineTable', 'TableName'),
    devicePolicyName: name('DevicePolicy', 'PolicyName'),
    claimPolicyName: name('ClaimPolicy', 'PolicyName'),
    templateName,
    thingGroupName: name('FleetThingGroup', 'ThingGroupName'),
    quarantineGroupName: name('QuarantineThingGroup', 'ThingGroupName'),
    thingTypeName: name('DeviceThingType', 'ThingTypeName'),
    roleAlias: name('DeviceRoleAlias', 'RoleAlias'),
    deviceDataBucket: context.refs.DeviceDataBucket!,
    certificateBucket: context.refs.CertificateBucket!,
    userPoolClientId: LOCAL_USER_POOL_CLIENT_ID,
    consoleClientId: LOCAL_CONSOLE_CLIENT_ID,
    ...(caCertificateId ? { caCertificateId } : {}),
  };
}

/** CloudFormation's PascalCase property names as the API's camelCase member names (TopicRulePayload → TopicRule). */
function camelCased(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCased);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), camelCased(v)]));
  }
  return value;
}

/** AWS::IoT::JobTemplate as this stack may declare it (what the local IoT Core models of it). */
interface CfnJobTemplate {
  JobTemplateId: string;
  Description: string;
  Document?: string;
  DocumentSource?: string;
  JobArn?: string;
  JobExecutionsRolloutConfig?: {
    MaximumPerMinute?: number;
    ExponentialRolloutRate?: { BaseRatePerMinute: number; IncrementFactor: number; RateIncreaseCriteria: { NumberOfNotifiedThings?: number; NumberOfSucceededThings?: number } };
  };
  AbortConfig?: { CriteriaList: Array<{ Action: 'CANCEL'; FailureType: 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL'; MinNumberOfExecutedThings: number; ThresholdPercentage: number }> };
  TimeoutConfig?: { InProgressTimeoutInMinutes: number };
}

/** CreateJobTemplate's input for a declared job template; numbers CloudFormation passes as strings become numbers. */
export function jobTemplateInput(t: CfnJobTemplate): Parameters<IotAccount['jobs']['createTemplate']>[1] {
  const num = (value: number | string | undefined) => (value === undefined ? undefined : Number(value));
  const rollout = t.JobExecutionsRolloutConfig;
  const rate = rollout?.ExponentialRolloutRate;
  const defined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
  return defined({
    description: t.Description,
    document: t.Document,
    documentSource: t.DocumentSource,
    jobArn: t.JobArn,
    jobExecutionsRolloutConfig: rollout
      ? defined({
          maximumPerMinute: num(rollout.MaximumPerMinute),
          exponentialRate: rate
            ? {
                baseRatePerMinute: num(rate.BaseRatePerMinute)!,
                incrementFactor: num(rate.IncrementFactor)!,
                rateIncreaseCriteria: defined({ numberOfNotifiedThings: num(rate.RateIncreaseCriteria.NumberOfNotifiedThings), numberOfSucceededThings: num(rate.RateIncreaseCriteria.NumberOfSucceededThings) }),
              }
            : undefined,
        })
      : undefined,
    abortConfig: t.AbortConfig
      ? {
          criteriaList: t.AbortConfig.CriteriaList.map((c) => ({
            action: c.Action,
            failureType: c.FailureType,
            minNumberOfExecutedThings: num(c.MinNumberOfExecutedThings)!,
            thresholdPercentage: num(c.ThresholdPercentage)!,
          })),
        }
      : undefined,
    timeoutConfig: t.TimeoutConfig ? { inProgressTimeoutInMinutes: num(t.TimeoutConfig.InProgressTimeoutInMinutes)! } : undefined,
  });
}
