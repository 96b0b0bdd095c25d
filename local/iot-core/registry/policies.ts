import { IotError, invalid, notFound } from '../errors';
import { generationId, type AccountScope } from './support';

/**
 * One account's IoT policies and their attachments to targets (certificate or thing-group ARNs), as
 * CreatePolicy, AttachPolicy and ListAttachedPolicies see them (aws-iot-reference §4, §5). Policy versions
 * are not modelled: the document given to CreatePolicy is the policy.
 */

export interface Policy {
  readonly policyName: string;
  readonly policyArn: string;
  readonly policyDocument: string;
  readonly creationDate: Date;
  readonly lastModifiedDate: Date;
  readonly generationId: string;
}

export interface AttachedPolicy {
  readonly policyName: string;
  readonly policyArn: string;
}

/** What the policies need of the other services: that an AttachPolicy target exists (else they throw). */
export interface PolicyTargets {
  verify(target: string): void;
}

const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
const MAX_POLICIES_PER_PRINCIPAL = 10;

export class PolicyService {
  private readonly policies = new Map<string, Policy>();
  /** target ARN → policy names */
  private readonly attachments = new Map<string, Set<string>>();

  constructor(
    private readonly scope: AccountScope,
    private readonly targets: PolicyTargets,
  ) {}

  create(policyName: string, input: { policyDocument?: string | undefined }): Policy {
    if (!POLICY_NAME.test(policyName)) throw invalid(`Invalid policy name ${policyName}.`);
    const document = input.policyDocument;
    if (typeof document !== 'string') throw new IotError('MalformedPolicyException', 'The policy document is missing.');
    validatePolicyDocument(document);
    const existing = this.policies.get(policyName);
    if (existing) {
      throw new IotError('ResourceAlreadyExistsException', `Policy ${policyName} already exists.`, {
        resourceId: policyName,
        resourceArn: existing.policyArn,
      });
    }
    const now = this.scope.now();
    const policy: Policy = {
      policyName,
      policyArn: this.scope.arn(`policy/${policyName}`),
      policyDocument: document,
      creationDate: now,
      lastModifiedDate: now,
      generationId: generationId(),
    };
    this.policies.set(policyName, policy);
    return policy;
  }

  /** The policy, or ResourceNotFoundException. */
  get(policyName: string): Policy {
    const policy = this.policies.get(policyName);
    if (!policy) throw notFound(`Policy ${policyName} cannot be found.`);
    return policy;
  }

  has(policyName: string): boolean {
    return this.policies.has(policyName);
  }

  delete(policyName: string): void {
    this.get(policyName);
    for (const policies of this.attachments.values()) {
      if (policies.has(policyName)) throw new IotError('DeleteConflictException', `Policy ${policyName} is attached to principals.`);
    }
    this.policies.delete(policyName);
  }

  attach(policyName: string, target: string | undefined): void {
    this.get(policyName);
    if (!target) throw invalid('A target must be given.');
    this.targets.verify(target);
    const policies = this.attachments.get(target) ?? new Set<string>();
    if (!policies.has(policyName) && policies.size >= MAX_POLICIES_PER_PRINCIPAL) {
      throw new IotError('LimitExceededException', 'At most 10 policies can be attached to a principal.');
    }
    policies.add(policyName);
    this.attachments.set(target, policies);
  }

  detach(policyName: string, target: string | undefined): void {
    if (!target) throw invalid('A target must be given.');
    this.attachments.get(target)?.delete(policyName);
  }

  /** The policies attached to a target, in attachment order. */
  attachedTo(target: string): AttachedPolicy[] {
    return [...(this.attachments.get(target) ?? [])].map((policyName) => ({ policyName, policyArn: this.scope.arn(`policy/${policyName}`) }));
  }

  hasAttached(target: string): boolean {
    return (this.attachments.get(target)?.size ?? 0) > 0;
  }

  /** The documents of the policies attached to a target: what a device's requests are evaluated against. */
  documentsFor(target: string): string[] {
    return [...(this.attachments.get(target) ?? [])].flatMap((name) => {
      const policy = this.policies.get(name);
      return policy ? [policy.policyDocument] : [];
    });
  }

  /** Detaches every policy from a target (its certificate is gone). */
  detachAll(target: string): void {
    this.attachments.delete(target);
  }
}

/** The checks AWS makes on a policy document: JSON, statements, and the 2,048-character limit (§5). */
function validatePolicyDocument(document: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new IotError('MalformedPolicyException', 'The policy document is not valid JSON.');
  }
  const statements = (parsed as { Statement?: unknown })?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  if (list.length === 0) throw new IotError('MalformedPolicyException', 'The policy document has no Statement.');
  for (const statement of list as Array<Record<string, unknown>>) {
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') {
      throw new IotError('MalformedPolicyException', 'Each statement needs Effect Allow or Deny.');
    }
    if (!statement.Action || !statement.Resource) {
      throw new IotError('MalformedPolicyException', 'Each statement needs Action and Resource.');
    }
  }
  if (document.replace(/\s/g, '').length > 2048) {
    throw new IotError('MalformedPolicyException', 'The policy document exceeds 2,048 characters (whitespace excluded).');
  }
}
