/**
 * AWS IoT policy evaluation for the MQTT endpoint: iot:Connect, iot:Publish, iot:Subscribe, iot:Receive.
 *
 * Evaluated: Allow and Deny statements (an explicit Deny wins, no Allow means denied); Action and Resource
 * as strings or lists with `*` and `?` wildcards (IAM glob rules: `*` also matches `/`); MQTT `+` and `#`
 * in resources and in the requested topic or filter are literal characters, as in AWS IoT; the policy
 * variables `${iot:ClientId}`, `${iot:Connection.Thing.ThingName}` and `${iot:Connection.Thing.IsAttached}`;
 * conditions `Bool`, `StringEquals`, `StringNotEquals`, `StringLike` and `StringNotLike` on those keys.
 *
 * Not evaluated (fail closed): NotAction, NotResource, other condition operators and keys, other policy
 * variables (thing attributes, certificate fields, `iot:Connection.Thing.ThingTypeName`…). An Allow
 * statement that uses one of them does not allow; a Deny statement that uses one of them denies.
 */

export type IotAction = 'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive' | 'iot:RetainPublish' | 'iot:AssumeRoleWithCertificate';

export interface PolicyContext {
  clientId: string;
  /** The thing the connection is associated with, if any (see `resolveConnectionThing`). */
  thingName?: string;
  /** Whether that thing is attached to the certificate. */
  thingAttached: boolean;
}

export interface PolicyRequest {
  action: IotAction;
  /** The full resource ARN, e.g. arn:aws:iot:us-east-1:123456789012:topic/device/x/telemetry */
  resource: string;
}

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);

/** IAM glob: `*` any run of characters, `?` one character; everything else literal. */
function globMatches(pattern: string, value: string, caseInsensitive = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\#]/g, (c) => `\\${c}`).replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${source}$`, caseInsensitive ? 'i' : '').test(value);
}

type Resolved = { ok: true; value: string } | { ok: false };

/** Substitutes the policy variables this evaluator knows; any other `${…}` makes the string unresolvable. */
function substitute(text: string, context: PolicyContext): Resolved {
  let unresolved = false;
  const value = text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    switch (name) {
      case 'iot:ClientId':
        return context.clientId;
      case 'iot:Connection.Thing.ThingName':
        if (context.thingName === undefined) unresolved = true;
        return context.thingName ?? whole;
      case 'iot:Connection.Thing.IsAttached':
        return String(context.thingAttached);
      default:
        unresolved = true;
        return whole;
    }
  });
  return unresolved ? { ok: false } : { ok: true, value };
}

function conditionKeyValue(key: string, context: PolicyContext): string | undefined {
  switch (key) {
    case 'iot:ClientId':
      return context.clientId;
    case 'iot:Connection.Thing.ThingName':
      return context.thingName;
    case 'iot:Connection.Thing.IsAttached':
      return String(context.thingAttached);
    default:
      return undefined;
  }
}

/** true / false when the condition block could be evaluated, 'unknown' when it uses what is not evaluated. */
function conditionHolds(condition: unknown, context: PolicyContext): boolean | 'unknown' {
  if (condition === undefined) return true;
  if (!condition || typeof condition !== 'object') return 'unknown';
  for (const [operator, tests] of Object.entries(condition as Record<string, unknown>)) {
    if (!tests || typeof tests !== 'object') return 'unknown';
    for (const [key, expected] of Object.entries(tests as Record<string, unknown>)) {
      const actual = conditionKeyValue(key, context);
      if (actual === undefined) return 'unknown';
      const values = list(expected);
      let holds: boolean;
      switch (operator) {
        case 'Bool':
        case 'StringEquals':
          holds = values.some((v) => v === actual);
          break;
        case 'StringNotEquals':
          holds = values.every((v) => v !== actual);
          break;
        case 'StringLike':
          holds = values.some((v) => globMatches(v, actual));
          break;
        case 'StringNotLike':
          holds = values.every((v) => !globMatches(v, actual));
          break;
        default:
          return 'unknown';
      }
      if (!holds) return false;
    }
  }
  return true;
}

/** Whether the statement applies to the request: true, false, or 'unknown' (uses what is not evaluated). */
function statementApplies(statement: Statement, request: PolicyRequest, context: PolicyContext): boolean | 'unknown' {
  if (statement.NotAction !== undefined || statement.NotResource !== undefined) return 'unknown';
  const actionMatches = list(statement.Action).some((pattern) => globMatches(pattern, request.action, true));
  if (!actionMatches) return false;
  let resourceUnknown = false;
  const resourceMatches = list(statement.Resource).some((pattern) => {
    const resolved = substitute(pattern, context);
    if (!resolved.ok) {
      resourceUnknown = true;
      return false;
    }
    return globMatches(resolved.value, request.resource);
  });
  if (!resourceMatches) return resourceUnknown ? 'unknown' : false;
  return conditionHolds(statement.Condition, context);
}

export type Decision = { allowed: true } | { allowed: false; reason: 'explicit-deny' | 'no-allow' };

/** Evaluates the documents of every policy attached to the principal. */
export function evaluatePolicies(documents: readonly string[], request: PolicyRequest, context: PolicyContext): Decision {
  let allowed = false;
  for (const document of documents) {
    let statements: Statement[];
    try {
      const parsed = JSON.parse(document) as { Statement?: unknown };
      statements = (Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement]) as Statement[];
    } catch {
      continue;
    }
    for (const statement of statements) {
      if (!statement || typeof statement !== 'object') continue;
      const applies = statementApplies(statement, request, context);
      if (statement.Effect === 'Deny' && applies !== false) return { allowed: false, reason: 'explicit-deny' };
      if (statement.Effect === 'Allow' && applies === true) allowed = true;
    }
  }
  return allowed ? { allowed: true } : { allowed: false, reason: 'no-allow' };
}

/**
 * The thing a connection is associated with, for the thing policy variables: the thing named like the
 * client id if it is attached to the certificate, else the single thing the certificate is exclusively
 * attached to.
 */
export function resolveConnectionThing(
  clientId: string,
  attachments: ReadonlyArray<{ thingName: string; exclusive: boolean }>,
): { thingName?: string; thingAttached: boolean } {
  const byClientId = attachments.find((a) => a.thingName === clientId);
  if (byClientId) return { thingName: byClientId.thingName, thingAttached: true };
  const exclusive = attachments.filter((a) => a.exclusive);
  if (exclusive.length === 1) return { thingName: exclusive[0]!.thingName, thingAttached: true };
  return { thingAttached: false };
}
