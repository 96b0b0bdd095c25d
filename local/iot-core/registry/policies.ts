import { IotError, invalid, notFound } from '../errors';
import { byCreation, generationId, page, type AccountScope, type Page, type Paging } from './support';

/**
 * One account's IoT policies, their versions, and their attachments to targets (certificate or thing-group
 * ARNs, Cognito identity ids), as CreatePolicy, the policy-version operations, AttachPolicy and the list
 * operations see them (aws-iot-reference §4, §5). A policy is evaluated with its DEFAULT version's document
 * ("The default version is the operative version", the model's documentation of CreatePolicyVersion).
 */

export interface PolicyVersion {
  readonly versionId: string;
  readonly policyDocument: string;
  readonly createDate: Date;
  readonly lastModifiedDate: Date;
  readonly generationId: string;
}

export interface Policy {
  readonly policyName: string;
  readonly policyArn: string;
  /** The document of the default version. */
  readonly policyDocument: string;
  readonly defaultVersionId: string;
  readonly creationDate: Date;
  readonly lastModifiedDate: Date;
  readonly generationId: string;
}

export interface AttachedPolicy {
  readonly policyName: string;
  readonly policyArn: string;
}

/**
 * What the policies need of the other services: that an AttachPolicy target exists (else they throw), and
 * the thing groups a thing-group target inherits from (ListAttachedPolicies with `recursive`).
 */
export interface PolicyTargets {
  verify(target: string): void;
  ancestors?(target: string): string[];
}

interface PolicyRecord {
  readonly policyName: string;
  readonly policyArn: string;
  readonly creationDate: Date;
  defaultVersionId: string;
  nextVersion: number;
  readonly versions: Map<string, PolicyVersion>;
}

const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
const MAX_POLICIES_PER_PRINCIPAL = 10;
/** "A managed policy can have up to five versions" (the model's documentation of CreatePolicyVersion). */
const MAX_POLICY_VERSIONS = 5;

export class PolicyService {
  private readonly policies = new Map<string, PolicyRecord>();
  /** target → policy names, in attachment order */
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
    const record: PolicyRecord = {
      policyName,
      policyArn: this.scope.arn(`policy/${policyName}`),
      creationDate: now,
      defaultVersionId: '1',
      nextVersion: 2,
      versions: new Map([['1', { versionId: '1', policyDocument: document, createDate: now, lastModifiedDate: now, generationId: generationId() }]]),
    };
    this.policies.set(policyName, record);
    return this.view(record);
  }

  private recordOf(policyName: string): PolicyRecord {
    const policy = this.policies.get(policyName);
    if (!policy) throw notFound(`Policy ${policyName} cannot be found.`);
    return policy;
  }

  private view(record: PolicyRecord): Policy {
    const version = record.versions.get(record.defaultVersionId)!;
    return {
      policyName: record.policyName,
      policyArn: record.policyArn,
      policyDocument: version.policyDocument,
      defaultVersionId: record.defaultVersionId,
      creationDate: record.creationDate,
      lastModifiedDate: version.lastModifiedDate,
      generationId: version.generationId,
    };
  }

  /** The policy (its default version), or ResourceNotFoundException. */
  get(policyName: string): Policy {
    return this.view(this.recordOf(policyName));
  }

  has(policyName: string): boolean {
    return this.policies.has(policyName);
  }

  /** ListPolicies: by creation, newest first unless ascendingOrder ("ascending creation order"). */
  list(paging: Paging, ascending = false): Page<AttachedPolicy> {
    const all = byCreation([...this.policies.values()], ascending).map(({ policyName, policyArn }) => ({ policyName, policyArn }));
    return page(all, paging, { name: 'ListPolicies', scope: String(ascending) });
  }

  /**
   * DeletePolicy: not while attached, and not while it has versions other than the default ("A policy
   * cannot be deleted if it has non-default versions or it is attached to any certificate").
   */
  delete(policyName: string): void {
    const record = this.recordOf(policyName);
    for (const policies of this.attachments.values()) {
      if (policies.has(policyName)) throw new IotError('DeleteConflictException', `Policy ${policyName} is attached to principals.`);
    }
    if (record.versions.size > 1) {
      throw new IotError('DeleteConflictException', `Policy ${policyName} has non-default versions; delete them with DeletePolicyVersion first.`);
    }
    this.policies.delete(policyName);
  }

  // ---- versions ----

  /** CreatePolicyVersion: at most five versions (VersionsLimitExceededException); `setAsDefault` makes it operative. */
  createVersion(policyName: string, input: { policyDocument?: string | undefined; setAsDefault?: boolean }): PolicyVersion & { isDefaultVersion: boolean; policyArn: string } {
    const record = this.recordOf(policyName);
    const document = input.policyDocument;
    if (typeof document !== 'string') throw new IotError('MalformedPolicyException', 'The policy document is missing.');
    validatePolicyDocument(document);
    if (record.versions.size >= MAX_POLICY_VERSIONS) {
      throw new IotError('VersionsLimitExceededException', `Policy ${policyName} already has ${MAX_POLICY_VERSIONS} versions; delete one with DeletePolicyVersion.`);
    }
    const now = this.scope.now();
    const version: PolicyVersion = { versionId: String(record.nextVersion++), policyDocument: document, createDate: now, lastModifiedDate: now, generationId: generationId() };
    record.versions.set(version.versionId, version);
    if (input.setAsDefault) record.defaultVersionId = version.versionId;
    return { ...version, isDefaultVersion: record.defaultVersionId === version.versionId, policyArn: record.policyArn };
  }

  private versionOf(record: PolicyRecord, versionId: string): PolicyVersion {
    const version = record.versions.get(versionId);
    if (!version) throw notFound(`Version ${versionId} of policy ${record.policyName} cannot be found.`);
    return version;
  }

  getVersion(policyName: string, versionId: string): PolicyVersion & { isDefaultVersion: boolean; policy: Policy } {
    const record = this.recordOf(policyName);
    const version = this.versionOf(record, versionId);
    return { ...version, isDefaultVersion: record.defaultVersionId === versionId, policy: this.view(record) };
  }

  /** ListPolicyVersions: newest first (an assumption), the default marked. */
  listVersions(policyName: string): Array<PolicyVersion & { isDefaultVersion: boolean }> {
    const record = this.recordOf(policyName);
    return [...record.versions.values()].reverse().map((v) => ({ ...v, isDefaultVersion: v.versionId === record.defaultVersionId }));
  }

  /** SetDefaultPolicyVersion: the version becomes operative for every target the policy is attached to. */
  setDefaultVersion(policyName: string, versionId: string): void {
    const record = this.recordOf(policyName);
    this.versionOf(record, versionId);
    record.defaultVersionId = versionId;
  }

  /**
   * DeletePolicyVersion: "You cannot delete the default version of a policy using this action" — refused
   * with DeleteConflictException (an assumption: the documented error that names a conflict).
   */
  deleteVersion(policyName: string, versionId: string): void {
    const record = this.recordOf(policyName);
    this.versionOf(record, versionId);
    if (record.defaultVersionId === versionId) {
      throw new IotError('DeleteConflictException', `Version ${versionId} is the default version of policy ${policyName}; it cannot be deleted (use DeletePolicy).`);
    }
    record.versions.delete(versionId);
  }

  // ---- attachments ----

  attach(policyName: string, target: string | undefined): void {
    this.recordOf(policyName);
    if (!target) throw invalid('A target must be given.');
    this.targets.verify(target);
    const policies = this.attachments.get(target) ?? new Set<string>();
    if (!policies.has(policyName) && policies.size >= MAX_POLICIES_PER_PRINCIPAL) {
      throw new IotError('LimitExceededException', 'At most 10 policies can be attached to a principal.');
    }
    policies.add(policyName);
    this.attachments.set(target, policies);
  }

  /** DetachPolicy / DetachPrincipalPolicy: the policy must exist; a target it is not attached to is left as it is. */
  detach(policyName: string, target: string | undefined): void {
    if (!target) throw invalid('A target must be given.');
    this.recordOf(policyName);
    this.attachments.get(target)?.delete(policyName);
  }

  /** The policies attached to a target, in attachment order (with `recursive`, its parent groups' after its own). */
  attachedTo(target: string, recursive = false): AttachedPolicy[] {
    const targets = recursive ? [target, ...[...(this.targets.ancestors?.(target) ?? [])].reverse()] : [target];
    const names = new Set(targets.flatMap((t) => [...(this.attachments.get(t) ?? [])]));
    return [...names].map((policyName) => ({ policyName, policyArn: this.scope.arn(`policy/${policyName}`) }));
  }

  /** ListAttachedPolicies (`recursive`) and ListPrincipalPolicies, one page (each list's tokens are its own). */
  listAttached(target: string, paging: Paging, options: { recursive?: boolean; list: 'ListAttachedPolicies' | 'ListPrincipalPolicies'; ascending?: boolean }): Page<AttachedPolicy> {
    const attached = this.attachedTo(target, options.recursive === true);
    const ordered = options.ascending === false ? [...attached].reverse() : attached;
    return page(ordered, paging, { name: options.list, scope: `${target}/${options.recursive === true}/${options.ascending !== false}` });
  }

  /** ListTargetsForPolicy: the targets the policy is attached to. */
  targetsOf(policyName: string, paging: Paging): Page<string> {
    this.recordOf(policyName);
    const targets = [...this.attachments].filter(([, names]) => names.has(policyName)).map(([target]) => target);
    return page(targets, paging, { name: 'ListTargetsForPolicy', scope: policyName });
  }

  hasAttached(target: string): boolean {
    return (this.attachments.get(target)?.size ?? 0) > 0;
  }

  /** The DEFAULT-version documents of the policies attached to a target: what a device's requests are evaluated against. */
  documentsFor(target: string): string[] {
    return [...(this.attachments.get(target) ?? [])].flatMap((name) => {
      const record = this.policies.get(name);
      return record ? [record.versions.get(record.defaultVersionId)!.policyDocument] : [];
    });
  }

  /** Detaches every policy from a target (its certificate, or its thing group, is gone). */
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
