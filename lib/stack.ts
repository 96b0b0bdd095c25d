import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, type Tags } from 'yaml';
import stackModule = require('../resources/stack.cjs');
import type { StackResources } from '../resources/stack.cjs';
import namesModule = require('../resources/names.cjs');
import { PROJECT_ROOT } from './project-root';

/**
 * The stack as serverless.yml defines it, read without osls so the local IoT Core starts in milliseconds:
 * the functions (handler, environment, async settings), the stage parameters, and the CloudFormation
 * resources that `resources/stack.cjs` builds — the same builder `serverless package` calls.
 *
 * Only the variable forms serverless.yml uses are resolved (`${self:…}`, `${sls:stage}`, `${opt:x, 'd'}`,
 * `${param:…}`, and `${file(./x.cjs)}` / `${file(./x.cjs):a.b}` of a CommonJS module, whose exported functions
 * are called with a synchronous `resolveVariable`, as osls calls them with its own); anything else is an error
 * here, and test/integration/serverless-cli.test.ts checks that this reading matches the packaged template.
 */

export { PROJECT_ROOT };

export interface StackFunction {
  name: string;
  functionName: string;
  /** Module path relative to the project root, without extension, and the export name. */
  modulePath: string;
  exportName: string;
  /** The logical id of its role (serverless.yml `role`; functions/<name>/resources.cjs builds it). */
  role: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  /** serverless.yml `reservedConcurrency`: at most this many invocations at once (unset: the account's pool). */
  reservedConcurrency?: number;
  /** `httpApi` events: routes of the HTTP API, with the JWT authorizer (by name) or IAM authorization they use. */
  httpRoutes: Array<{ method: string; path: string; authorizer?: string; iam?: boolean }>;
  /** `sqs` events: the queue (a CloudFormation expression) and the event source mapping's settings. */
  sqsEvents: Array<{ arn: unknown; batchSize: number; reportBatchItemFailures: boolean }>;
  /** `schedule` events: each rate(...)/cron(...) expression, and whether the rule is enabled (osls: true by default). */
  scheduleEvents: Array<{ expression: string; enabled: boolean }>;
  /** `destinations.onFailure` of async invocations: its type (sqs, sns, …) and ARN (a CloudFormation expression). */
  onFailure?: { type: string; arn: unknown };
}

/** A JWT authorizer of provider.httpApi; issuer and audience may be CloudFormation intrinsics. */
export interface HttpAuthorizer {
  type: string;
  identitySource: string;
  issuerUrl: unknown;
  audience: unknown[];
}

export interface Stack {
  service: string;
  stage: string;
  region: string;
  params: Record<string, string>;
  functions: StackFunction[];
  resources: StackResources;
  httpAuthorizers: Record<string, HttpAuthorizer>;
  /** custom.esbuild: the bundling settings serverless-esbuild packages the functions with. */
  esbuild: { [key: string]: Json };
}

// CloudFormation short-form tags, kept as their long form.
const cfnTags: Tags = ['Ref', 'Sub', 'GetAtt', 'Join', 'Select', 'Split', 'If', 'Equals', 'ImportValue'].map((name) => ({
  tag: `!${name}`,
  resolve: (value: unknown) => ({ [name === 'Ref' ? 'Ref' : `Fn::${name}`]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value }),
}));

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Follows `path` in `root`; `resolve` turns a string met on the way (a variable, say) into its value first. */
function lookup(root: Json, path: string, resolveText: (value: string) => Json = (value) => value): Json | undefined {
  let node: Json | undefined = root;
  for (const key of path.split('.')) {
    if (typeof node === 'string') node = resolveText(node);
    if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

type ResolveVariable = (variable: string) => unknown;

/**
 * `${file(<module>):<address>}` as osls resolves it for a CommonJS module: the module's export, then each key
 * of the address; the first function met is called with `{ resolveVariable, options }`. Here the resolver is
 * synchronous, so the function must answer with a value, not a promise (resources/names.cjs does both).
 */
function resolveFileVariable(expression: string, resolveVariable: ResolveVariable, options: Record<string, string | undefined>): Json {
  const match = /^file\(([^)]+)\)(?::(.+))?$/.exec(expression);
  if (!match || !/\.c?js$/.test(match[1]!)) throw new Error(`serverless.yml: the local IoT Core resolves \${file(…)} of .cjs modules only, not \${${expression}}`);
  let value = require(resolve(PROJECT_ROOT, match[1]!)) as unknown;
  let called = false;
  const callIfFunction = () => {
    if (typeof value !== 'function' || called) return;
    called = true;
    value = (value as (context: unknown) => unknown)({ resolveVariable, options });
    if (value instanceof Promise) throw new Error(`serverless.yml: \${${expression}} answers with a promise; the local IoT Core reads serverless.yml synchronously`);
  };
  callIfFunction();
  for (const key of match[2] ? match[2].split('.') : []) {
    if (!value || typeof value !== 'object') return null;
    value = (value as Record<string, unknown>)[key];
    callIfFunction();
  }
  return value as Json;
}

export function loadStack(options: { stage?: string; region?: string; params?: Record<string, string> } = {}): Stack {
  const file = resolve(PROJECT_ROOT, 'serverless.yml');
  const config = parse(readFileSync(file, 'utf8'), { customTags: cfnTags }) as { [key: string]: Json };
  const opts: Record<string, string | undefined> = { stage: options.stage, region: options.region };

  const resolveString = (input: string, seen: number = 0): Json => {
    if (seen > 20) throw new Error(`serverless.yml: variable nesting too deep in ${input}`);
    // Only serverless variables (`${source:…}`); CloudFormation's `${AWS::Region}` or `${UserPool}` inside
    // !Sub strings are left for CloudFormation, as osls does.
    const variable = /\$\{((?:self|sls|opt|param|env|file|aws|cf|ssm|s3)[:(][^${}]*)\}/;
    const whole = new RegExp(`^${variable.source}$`).exec(input);
    const replaceOne = (expression: string): Json => {
      const [source, fallbackRaw] = expression.split(/,\s*/, 2);
      const fallback = fallbackRaw?.replace(/^'(.*)'$/, '$1');
      const [kind, ...rest] = source!.split(':');
      const key = rest.join(':');
      let value: Json | undefined;
      if (kind === 'self') value = lookup(config, key, (text) => resolveString(text, seen + 1));
      else if (kind?.startsWith('file(')) value = resolveFileVariable(source!, (name) => resolveString(`\${${name}}`, seen + 1), opts);
      else if (kind === 'sls' && key === 'stage') value = stage;
      else if (kind === 'opt') value = opts[key];
      else if (kind === 'param') value = paramValues[key];
      else throw new Error(`serverless.yml: the local IoT Core cannot resolve \${${expression}}`);
      value ??= fallback;
      if (value === undefined) throw new Error(`serverless.yml: \${${expression}} has no value`);
      return typeof value === 'string' ? resolveString(value, seen + 1) : value;
    };
    if (whole) return replaceOne(whole[1]!);
    let out = input;
    for (let match = variable.exec(out); match; match = variable.exec(out)) {
      out = out.replace(match[0], String(replaceOne(match[1]!)));
    }
    return out;
  };
  const resolveDeep = (value: Json): Json => {
    if (typeof value === 'string') return resolveString(value);
    if (Array.isArray(value)) return value.map(resolveDeep);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v)]));
    return value;
  };

  const provider = config.provider as { [key: string]: Json };
  const stage = String(resolveString(String(provider.stage)));
  const paramBlocks = (config.params ?? {}) as Record<string, Record<string, Json>>;
  // A parameter may hold a CloudFormation expression (`!Ref CertificateBucket`); it stays one.
  const paramValues: Record<string, Json> = {};
  const rawParams = { ...paramBlocks.default, ...paramBlocks[stage] };
  for (const key of Object.keys(rawParams)) paramValues[key] = ''; // placeholders while resolving
  for (const [key, value] of Object.entries(rawParams)) paramValues[key] = resolveDeep(value as Json) ?? '';
  Object.assign(paramValues, options.params);
  const params: Record<string, string> = Object.fromEntries(
    Object.entries(paramValues).map(([key, value]) => [key, typeof value === 'object' && value !== null ? '' : String(value)]),
  );

  const service = String(config.service);
  const region = String(resolveString(String(provider.region)));
  const providerEnvironment = resolveDeep((provider.environment ?? {}) as Json) as Record<string, string>;

  const functions = Object.entries((config.functions ?? {}) as Record<string, { [key: string]: Json }>).map(([name, fn]) => {
    const handler = String(fn.handler);
    const dot = handler.lastIndexOf('.');
    // A function's events come from its functions/<name>/resources.cjs (`${file(…):events}`).
    const events = (resolveDeep((fn.events ?? []) as Json) ?? []) as Array<{ [key: string]: Json }>;
    const onFailure = (resolveDeep((fn.destinations ?? {}) as Json) as { onFailure?: { type?: Json; arn?: Json } }).onFailure;
    return {
      name,
      functionName: namesModule.functionName(service, stage, name),
      modulePath: handler.slice(0, dot),
      exportName: handler.slice(dot + 1),
      role: String(fn.role ?? ''),
      environment: {
        ...providerEnvironment,
        ...(resolveDeep((fn.environment ?? {}) as Json) as Record<string, string>),
      },
      timeoutSeconds: Number(fn.timeout ?? provider.timeout ?? 6),
      maximumRetryAttempts: Number(fn.maximumRetryAttempts ?? 2),
      maximumEventAgeSeconds: Number(fn.maximumEventAge ?? 21_600),
      ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: Number(fn.reservedConcurrency) } : {}),
      httpRoutes: (events as Array<{ httpApi?: { method: string; path: string; authorizer?: { name?: string; type?: string } } }>)
        .flatMap((event) => (event.httpApi ? [event.httpApi] : []))
        .map((route) => ({
          method: route.method.toUpperCase(),
          path: route.path,
          ...(route.authorizer?.type?.toLowerCase() === 'aws_iam' ? { iam: true } : route.authorizer?.name ? { authorizer: route.authorizer.name } : {}),
        })),
      sqsEvents: (events as Array<{ sqs?: { arn: Json; batchSize?: number; functionResponseType?: string } }>)
        .flatMap((event) => (event.sqs ? [resolveDeep(event.sqs as unknown as Json) as { arn: Json; batchSize?: number; functionResponseType?: string }] : []))
        .map((sqs) => ({ arn: sqs.arn, batchSize: Number(sqs.batchSize ?? 10), reportBatchItemFailures: sqs.functionResponseType === 'ReportBatchItemFailures' })),
      scheduleEvents: (events as Array<{ schedule?: Json }>).flatMap((event) => {
        // osls accepts `schedule: rate(...)` or `schedule: { rate: [expressions], enabled }`.
        const schedule = event.schedule === undefined ? undefined : resolveDeep(event.schedule);
        if (schedule === undefined || schedule === null) return [];
        if (typeof schedule === 'string') return [{ expression: schedule, enabled: true }];
        const { rate, enabled } = schedule as { rate?: Json; enabled?: Json };
        return (Array.isArray(rate) ? rate : []).map((expression) => ({ expression: String(expression), enabled: enabled !== false }));
      }),
      ...(onFailure ? { onFailure: { type: String(onFailure.type), arn: onFailure.arn } } : {}),
    } satisfies StackFunction;
  });

  const readOptional = (path: string | undefined) => (path ? readFileSync(resolve(PROJECT_ROOT, path), 'utf8') : undefined);
  const caCertificatePem = readOptional(params.caCertificateFile);
  const verificationCertificatePem = readOptional(params.verificationCertificateFile);
  const resources = stackModule.buildResources({
    service,
    stage,
    devicePolicyName: params.devicePolicyName ?? '',
    caCertificateIds: stackModule.splitIds(params.caCertificateIds),
    ...(caCertificatePem ? { caCertificatePem } : {}),
    caCertificateMode: params.caCertificateMode || 'SNI_ONLY',
    ...(verificationCertificatePem ? { verificationCertificatePem } : {}),
    fleetTemplateName: params.fleetTemplateName ?? '',
    fleetThingAttributes: stackModule.splitNames(params.fleetThingAttributes),
    alarmEmail: params.alarmEmail ?? '',
    ...stackModule.auditSettings({
      ...(params.deviceDefenderAudit !== undefined ? { deviceDefenderAudit: params.deviceDefenderAudit } : {}),
      ...(params.expiryWarningDays !== undefined ? { expiryWarningDays: params.expiryWarningDays } : {}),
      ...(params.certificateMaxAgeDays !== undefined ? { certificateMaxAgeDays: params.certificateMaxAgeDays } : {}),
    }),
    ...stackModule.consoleSettings({
      ...(params.consoleMfa !== undefined ? { consoleMfa: params.consoleMfa } : {}),
      ...(params.consoleUrl !== undefined ? { consoleUrl: params.consoleUrl } : {}),
      ...(params.consoleSignInDomainPrefix !== undefined ? { consoleSignInDomainPrefix: params.consoleSignInDomainPrefix } : {}),
    }),
    ...stackModule.rotationSettings(params),
  });
  const authorizers = ((provider.httpApi as { [key: string]: Json } | undefined)?.authorizers ?? {}) as Json;
  const esbuild = (lookup(config, 'custom.esbuild') ?? {}) as { [key: string]: Json };
  return { service, stage, region, params, functions, resources, httpAuthorizers: resolveDeep(authorizers) as unknown as Record<string, HttpAuthorizer>, esbuild };
}

/** Evaluates the CloudFormation intrinsics the stack's resources use, for one account and region. */
export function evaluateIntrinsics(
  value: unknown,
  context: { accountId: string; region: string; refs: Record<string, string>; attributes: Record<string, string> },
): unknown {
  const pseudo: Record<string, string> = {
    'AWS::AccountId': context.accountId,
    'AWS::Region': context.region,
    'AWS::Partition': 'aws',
  };
  const lookupName = (name: string): string => {
    const found = pseudo[name] ?? context.refs[name] ?? context.attributes[name];
    if (found === undefined) throw new Error(`cannot evaluate \${${name}} locally`);
    return found;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0]!;
      if (key === 'Ref') return lookupName(String(arg));
      if (key === 'Fn::GetAtt') return lookupName((arg as string[]).join('.'));
      if (key === 'Fn::Join') {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map(walk).join(separator);
      }
      if (key === 'Fn::Sub') {
        if (typeof arg !== 'string') throw new Error('only the string form of Fn::Sub is supported locally');
        return arg.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => (literal ? `\${${name}}` : lookupName(name)));
      }
    }
    return Object.fromEntries(entries.map(([k, x]) => [k, walk(x)]));
  };
  return walk(value);
}
