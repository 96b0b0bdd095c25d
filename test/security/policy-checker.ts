import type { IamReference } from './iam-reference';

/**
 * Least privilege, checked statically on a CloudFormation template: every IAM policy (role inline
 * policies, AWS::IAM::Policy and ManagedPolicy, trust policies), every resource policy (S3 bucket and SQS
 * queue policies) and every AWS IoT policy (AWS::IoT::Policy). An Allow statement may not
 *
 * - name a wildcard action (`*`, `iot:*`, `iot:Create*`, …) or use NotAction / NotResource;
 * - grant `Resource: '*'` (or a whole service, `arn:…:iot:<region>:<account>:*`) for an action that has a
 *   resource type in the IAM Service Authorization Reference (iam-reference.ts, the same reference
 *   role-coverage.ts checks the roles against) — only actions without one need '*';
 * - grant CloudWatch Logs actions beyond the function's own log group;
 * - trust or allow any principal (`Principal: '*'`).
 *
 * Deny statements are not checked: a wildcard in a Deny only takes away.
 */

export interface Finding {
  /** Logical id of the resource holding the policy. */
  resource: string;
  /** Which document: e.g. `Policies[0]`, `PolicyDocument`, `AssumeRolePolicyDocument`. */
  document: string;
  sid?: string;
  problem: string;
}

type Json = unknown;
/** A statement of an IAM (or IoT) policy document, as the template writes it. */
export interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: Json;
  NotAction?: Json;
  Resource?: Json;
  NotResource?: Json;
  Principal?: Json;
  Condition?: Json;
}
interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, Json> }>;
}

/** A resource or action as text: Fn::Sub and Fn::Join keep their text, other intrinsics stand for a scoped value. */
export function textOf(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, Json>;
    if ('Fn::Sub' in v) return Array.isArray(v['Fn::Sub']) ? textOf(v['Fn::Sub'][0]) : textOf(v['Fn::Sub']);
    if ('Fn::Join' in v && Array.isArray(v['Fn::Join'])) {
      const [separator, parts] = v['Fn::Join'] as [string, Json[]];
      return (Array.isArray(parts) ? parts : []).map(textOf).join(separator);
    }
    if ('Ref' in v) return `\${${String(v.Ref)}}`;
    if ('Fn::GetAtt' in v) return `\${${[v['Fn::GetAtt']].flat().join('.')}}`;
    if ('Fn::ImportValue' in v) return '${ImportValue}';
  }
  return JSON.stringify(value);
}

const list = (value: Json): Json[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** `arn:<partition>:<service>:<region>:<account>:*` — every resource of a service. */
const WHOLE_SERVICE = /^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$/;
/** AWS IoT's log group (AWSIotLogsV2) of the stack's account and region. */
const IOT_LOG_GROUP = /^arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:AWSIotLogsV2:\*$/;
/**
 * Actions whose only resource type is optional and is not what the stack reads: the SAR gives
 * cloudwatch:ListMetrics and GetMetricData an optional `dataset` (arn:…:cloudwatch:…:dataset/<id>, the OTLP
 * datasets of PromQL queries), while the classic metrics the functions write as EMF have no ARN at all — reading
 * them is authorized on '*' only (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
 */
const STAR_ONLY_FOR_WHAT_WE_READ = new Set(['cloudwatch:ListMetrics', 'cloudwatch:GetMetricData']);
const LOG_GROUP_OF_A_FUNCTION = /:log-group:\/aws\/lambda\/[^*:]+(:\*)?$/;

function checkStatement(statement: Statement, at: Omit<Finding, 'problem' | 'sid'>, principalMatters: boolean, reference: IamReference): Finding[] {
  const findings: Finding[] = [];
  const report = (problem: string) => findings.push({ ...at, ...(statement.Sid ? { sid: statement.Sid } : {}), problem });
  if (statement.Effect !== 'Allow') return findings;
  if (statement.NotAction !== undefined) report('Allow with NotAction (allows everything else)');
  if (statement.NotResource !== undefined) report('Allow with NotResource (allows everything else)');

  const actions = list(statement.Action).map(textOf);
  for (const action of actions) if (action.includes('*')) report(`wildcard action ${action}`);

  if (principalMatters && statement.Principal !== undefined) {
    const principals = typeof statement.Principal === 'string' ? [statement.Principal] : Object.values(statement.Principal as Record<string, Json>).flatMap(list).map(textOf);
    if (principals.includes('*')) report('allows any principal (*)');
  }

  const resources = list(statement.Resource).map(textOf);
  const unscoped = resources.filter((r) => r === '*' || WHOLE_SERVICE.test(r.replace(/\$\{[^}]+\}/g, 'x')));
  if (unscoped.length) {
    // An action the reference does not know counts as one that can be scoped: '*' is never assumed harmless.
    const needScope = actions.filter((a) => !STAR_ONLY_FOR_WHAT_WE_READ.has(a) && (reference.action(a)?.resourceTypes.length ?? 1) > 0);
    if (needScope.length) report(`Resource ${unscoped.join(', ')} for ${needScope.join(', ')}, which can be scoped to a resource`);
  }
  // Reading AWS IoT's own log (the Connect entries `devices why` reads) is the one grant beyond a function's log group.
  const readsIotLog = actions.every((a) => a === 'logs:FilterLogEvents') && resources.every((r) => IOT_LOG_GROUP.test(r));
  const logActions = actions.filter((a) => a.startsWith('logs:'));
  if (logActions.length && !readsIotLog && !resources.every((r) => LOG_GROUP_OF_A_FUNCTION.test(r))) {
    report(`${logActions.join(', ')} beyond a function's own log group (${resources.join(', ')})`);
  }
  return findings;
}

function checkDocument(document: Json, at: Omit<Finding, 'problem' | 'sid'>, principalMatters: boolean, reference: IamReference): Finding[] {
  const statements = list((document as { Statement?: Json } | undefined)?.Statement) as Statement[];
  if (!statements.length) return [{ ...at, problem: 'a policy document without statements (not read?)' }];
  return statements.flatMap((statement) => checkStatement(statement, at, principalMatters, reference));
}

export interface CheckOptions {
  /** Which actions have resource types: loadIamReference() with the services the template names. */
  reference: IamReference;
  /** AWS managed policies a role may have, each with the reason (their statements are not in the template). */
  allowedManagedPolicies?: Record<string, string>;
}

/** The findings of a template, and how many policy documents were read (a check of nothing proves nothing). */
export function checkTemplate(template: Template, options: CheckOptions): { findings: Finding[]; documents: number; statements: number } {
  const findings: Finding[] = [];
  let documents = 0;
  let statements = 0;
  const read = (document: Json, at: Omit<Finding, 'problem' | 'sid'>, principalMatters = false) => {
    documents++;
    statements += list((document as { Statement?: Json } | undefined)?.Statement).length;
    findings.push(...checkDocument(document, at, principalMatters, options.reference));
  };
  for (const [resource, { Type, Properties = {} }] of Object.entries(template.Resources ?? {})) {
    switch (Type) {
      case 'AWS::IAM::Role': {
        read(Properties.AssumeRolePolicyDocument, { resource, document: 'AssumeRolePolicyDocument' }, true);
        for (const [i, policy] of list(Properties.Policies).entries()) read((policy as { PolicyDocument?: Json }).PolicyDocument, { resource, document: `Policies[${i}]` });
        for (const arn of list(Properties.ManagedPolicyArns).map(textOf)) {
          const name = arn.slice(arn.indexOf(':policy/') + ':policy/'.length);
          if (!options.allowedManagedPolicies?.[name]) findings.push({ resource, document: 'ManagedPolicyArns', problem: `managed policy ${name} (its statements are not in the template)` });
        }
        break;
      }
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::IoT::Policy':
        read(Properties.PolicyDocument, { resource, document: 'PolicyDocument' });
        break;
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SQS::QueuePolicy':
        read(Properties.PolicyDocument, { resource, document: 'PolicyDocument' }, true);
        break;
      default:
    }
  }
  return { findings, documents, statements };
}
