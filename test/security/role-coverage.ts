import namesModule = require('../../resources/names.cjs');
import { evaluateIntrinsics } from '../../lib/stack';
import { missingResourceTypes, SAMPLE, type IamReference } from './iam-reference';
import type { Statement } from './policy-checker';

/**
 * Does each function's role grant what its code sends, and does every grant do something? Checked against
 * the IAM Service Authorization Reference (iam-reference.ts), action and resource type:
 *
 * - missing: an action the function's bundle sends (bundle-commands.ts) that no statement of its role allows
 *   on a Resource naming each required resource type of the action (or one of its optional types, or `*`
 *   for an action without resource types) — it would be AccessDenied on AWS, and nowhere else — or what
 *   Lambda does with the role for the function's triggers (triggerGrants), on the trigger's own queue;
 * - useless: in any IAM role of the template, an action granted on a Resource that is none of its resource
 *   types (or on an ARN when it has none) — a pair of action and resource IAM never matches, even when the
 *   statement's other pairs do something.
 *
 * The template's intrinsics are evaluated for a sample account and region (iam-reference.ts SAMPLE), with
 * the physical names CloudFormation gives (table and queue names as declared, generated names otherwise).
 */

type Json = unknown;
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
}

export interface CoverageFinding {
  /** The function (missing) or the role (useless). */
  subject: string;
  action: string;
  problem: string;
}

const list = (value: Json): Json[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The ARNs CloudFormation would give the template's resources, in the sample account and region. */
function sampleContext(template: Template, service: string, stage: string) {
  const refs: Record<string, string> = {};
  const attributes: Record<string, string> = {};
  const { partition, region, accountId } = SAMPLE;
  for (const [id, resource] of Object.entries(template.Resources)) {
    const properties = resource.Properties ?? {};
    const named = (property: string) => (typeof properties[property] === 'string' ? (properties[property] as string) : namesModule.generatedName(service, stage, id));
    if (resource.Type === 'AWS::DynamoDB::Table') {
      refs[id] = named('TableName');
      attributes[`${id}.Arn`] = `arn:${partition}:dynamodb:${region}:${accountId}:table/${refs[id]}`;
    } else if (resource.Type === 'AWS::SQS::Queue') {
      const name = named('QueueName');
      refs[id] = `https://sqs.${region}.amazonaws.com/${accountId}/${name}`;
      attributes[`${id}.Arn`] = `arn:${partition}:sqs:${region}:${accountId}:${name}`;
    } else if (resource.Type === 'AWS::SNS::Topic') {
      // Ref of a topic is its ARN.
      refs[id] = `arn:${partition}:sns:${region}:${accountId}:${named('TopicName')}`;
    } else if (resource.Type === 'AWS::S3::Bucket') {
      refs[id] = named('BucketName').toLowerCase();
      attributes[`${id}.Arn`] = `arn:${partition}:s3:::${refs[id]}`;
    }
  }
  return { accountId, region, refs, attributes };
}

/** A role's Allow statements, evaluated. Only what the stack's roles use is modelled: no Deny, NotAction, NotResource or Condition. */
function statementsOf(template: Template, roleId: string, context: ReturnType<typeof sampleContext>): Array<{ sid: string; actions: string[]; resources: string[] }> {
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  return list(role.Properties?.Policies).flatMap((policy, p) =>
    list((policy as { PolicyDocument?: { Statement?: Json } }).PolicyDocument?.Statement).map((raw, s) => {
      const statement = evaluateIntrinsics(raw, context) as Statement;
      const sid = statement.Sid ?? `Policies[${p}].Statement[${s}]`;
      for (const unsupported of ['NotAction', 'NotResource', 'Condition'] as const) {
        if (statement[unsupported] !== undefined) throw new Error(`${roleId} ${sid}: ${unsupported} is not modelled by role-coverage.ts`);
      }
      if (statement.Effect !== 'Allow') throw new Error(`${roleId} ${sid}: only Allow statements are modelled by role-coverage.ts`);
      return { sid, actions: list(statement.Action).map(String), resources: list(statement.Resource).map(String) };
    }),
  );
}

/** `iot:Describe*` and the like, as IAM matches actions (case-insensitive). */
const actionMatches = (granted: string, action: string) =>
  new RegExp(`^${granted.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i').test(action);

export interface FunctionCalls {
  name: string;
  role: string;
  /** The IAM actions its bundle can send. */
  actions: string[];
  /** What Lambda itself does with the function's role for its triggers (triggerGrants), on named resources. */
  platform?: Array<{ action: string; resource: Json; why: string }>;
}

/**
 * What Lambda does with a function's own role for the function's triggers (AWS Lambda Developer Guide):
 * an SQS event source mapping polls with it (sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes,
 * "Execution role permissions" of "Using Lambda with Amazon SQS"), and an SQS on-failure destination of
 * async invocations sends with it (sqs:SendMessage, "Configuring destinations for asynchronous invocation").
 */
export function triggerGrants(fn: { sqsEvents: Array<{ arn: unknown }>; onFailure?: { type: string; arn: unknown } }): NonNullable<FunctionCalls['platform']> {
  const grants: NonNullable<FunctionCalls['platform']> = [];
  for (const source of fn.sqsEvents) {
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) grants.push({ action, resource: source.arn, why: 'its SQS event source polls with the function’s role' });
  }
  if (fn.onFailure?.type === 'sqs') grants.push({ action: 'sqs:SendMessage', resource: fn.onFailure.arn, why: 'its on-failure destination is sent to with the function’s role' });
  return grants;
}

/** A granted Resource (IAM wildcards) matching one ARN. */
const resourceMatches = (granted: string, arn: string) =>
  granted === '*' || new RegExp(`^${granted.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(arn);

export function checkRoleCoverage(
  template: Template,
  functions: FunctionCalls[],
  reference: IamReference,
  stack: { service: string; stage: string },
): { missing: CoverageFinding[]; useless: CoverageFinding[] } {
  const context = sampleContext(template, stack.service, stack.stage);
  const missing: CoverageFinding[] = [];
  for (const fn of functions) {
    const statements = statementsOf(template, fn.role, context);
    for (const action of fn.actions) {
      const known = reference.action(action);
      if (!known) {
        missing.push({ subject: fn.name, action, problem: 'not an action of the IAM reference (map its command in bundle-commands.ts)' });
        continue;
      }
      const granting = statements.filter((s) => s.actions.some((a) => actionMatches(a, action)));
      if (!granting.length) {
        missing.push({ subject: fn.name, action, problem: `not granted by ${fn.role}` });
        continue;
      }
      const resources = granting.flatMap((s) => s.resources);
      const covered = new Set(resources.flatMap((r) => reference.typesNamedBy(action, r, SAMPLE)));
      const problem = missingResourceTypes(known, covered, resources.includes('*'));
      if (problem) missing.push({ subject: fn.name, action, problem: `${problem} (${fn.role} grants it on ${resources.join(', ')})` });
    }
    for (const grant of fn.platform ?? []) {
      const arn = String(evaluateIntrinsics(grant.resource, context));
      const allowed = statements.some((s) => s.actions.some((a) => actionMatches(a, grant.action)) && s.resources.some((r) => resourceMatches(r, arn)));
      if (!allowed) missing.push({ subject: fn.name, action: grant.action, problem: `not granted on ${arn}, which ${grant.why}` });
    }
  }

  // IAM allows each (action, resource) pair of a statement on its own: a pair whose resource is none of
  // the action's resource types allows nothing, even when the statement's other pairs do.
  const useless: CoverageFinding[] = [];
  for (const [roleId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role' || !resource.Properties?.Policies) continue;
    for (const statement of statementsOf(template, roleId, context)) {
      const at = `${roleId} ${statement.sid}`;
      for (const action of statement.actions) {
        const known = reference.action(action);
        if (!known) {
          useless.push({ subject: at, action, problem: 'not an action of the IAM reference' });
          continue;
        }
        const arns = statement.resources.filter((r) => r !== '*');
        if (known.resourceTypes.length === 0) {
          if (arns.length) useless.push({ subject: at, action, problem: `granted on ${arns.join(', ')}, but it has no resource type: only "*" works` });
          continue;
        }
        const other = arns.filter((r) => reference.typesNamedBy(action, r, SAMPLE).length === 0);
        if (other.length) {
          const types = known.resourceTypes.map((t) => t.name).join(', ');
          useless.push({ subject: at, action, problem: `granted on ${other.join(', ')}, which ${other.length > 1 ? 'are' : 'is'} none of its resource types (${types})` });
        }
      }
    }
  }
  return { missing, useless };
}
