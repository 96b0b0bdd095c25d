import type { X509Certificate } from 'node:crypto';
import { IotError, invalid, notFound } from '../errors';
import { certificateIdOf } from '../pem';
import { page, type AccountScope, type Page, type Paging, type TrustRevision, type Writable } from './support';

/**
 * One account's provisioning templates and the claim certificates issued for them (aws-iot-reference §3).
 */

export interface ProvisioningTemplate {
  readonly templateName: string;
  readonly templateArn: string;
  readonly description?: string;
  readonly templateBody: string;
  readonly enabled: boolean;
  readonly provisioningRoleArn: string;
  readonly preProvisioningHook?: { readonly targetArn: string; readonly payloadVersion: string };
  readonly type: 'FLEET_PROVISIONING' | 'JITP';
  readonly creationDate: Date;
  readonly lastModifiedDate: Date;
}

/** A temporary claim certificate from CreateProvisioningClaim: valid 5 minutes, not in the certificate list. */
export interface ProvisioningClaim {
  readonly certificateId: string;
  readonly x509: X509Certificate;
  readonly templateName: string;
  readonly expiration: Date;
}

const CLAIM_LIFETIME_MS = 5 * 60_000;

type HookInput = { targetArn?: string; payloadVersion?: string } | undefined;

/** CreateProvisioningTemplate's checks of the role, which UpdateProvisioningTemplate makes too. */
function checkRole(provisioningRoleArn: string | undefined): void {
  if (!provisioningRoleArn || provisioningRoleArn.length < 20) throw invalid('provisioningRoleArn is required.');
}

/** CreateProvisioningTemplate's checks of a pre-provisioning hook, which UpdateProvisioningTemplate makes too. */
function checkHook(hook: HookInput, type: string): void {
  if (!hook) return;
  if (type !== 'FLEET_PROVISIONING') throw invalid('Pre-provisioning hooks are supported on FLEET_PROVISIONING templates only.');
  if (!hook.targetArn?.startsWith('arn:aws:lambda:')) throw invalid('preProvisioningHook.targetArn must be a Lambda function ARN.');
  if (hook.payloadVersion !== undefined && !/^[0-9-]{10,32}$/.test(hook.payloadVersion)) {
    throw invalid('preProvisioningHook.payloadVersion is not valid.');
  }
}

export class ProvisioningService {
  private readonly templates = new Map<string, Writable<ProvisioningTemplate>>();
  private readonly claims = new Map<string, ProvisioningClaim>();

  constructor(
    private readonly scope: AccountScope,
    private readonly trust: TrustRevision,
  ) {}

  createTemplate(input: {
    templateName?: string | undefined;
    templateBody?: string | undefined;
    provisioningRoleArn?: string | undefined;
    description?: string | undefined;
    enabled?: boolean | undefined;
    preProvisioningHook?: HookInput;
    type?: string | undefined;
  }): ProvisioningTemplate {
    const name = input.templateName ?? '';
    if (!/^[0-9A-Za-z_-]{1,36}$/.test(name)) throw invalid('templateName must be 1-36 characters of [0-9A-Za-z_-].');
    if (input.description !== undefined && input.description.length > 500) throw invalid('description is at most 500 characters.');
    if (typeof input.templateBody !== 'string' || input.templateBody.length > 10_240) {
      throw invalid('templateBody must be a JSON document of at most 10,240 characters.');
    }
    try {
      const body = JSON.parse(input.templateBody) as unknown;
      if (!body || typeof body !== 'object' || !(body as { Resources?: unknown }).Resources) throw new Error('no Resources');
    } catch (error) {
      throw invalid(`templateBody is not a valid provisioning template: ${(error as Error).message}`);
    }
    checkRole(input.provisioningRoleArn);
    const type = input.type ?? 'FLEET_PROVISIONING';
    if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') throw invalid(`Invalid template type ${type}.`);
    const hook = input.preProvisioningHook;
    checkHook(hook, type);
    const templateArn = this.scope.arn(`provisioningtemplate/${name}`);
    if (this.templates.has(name)) {
      throw new IotError('ResourceAlreadyExistsException', `Provisioning template ${name} already exists.`, {
        resourceId: name,
        resourceArn: templateArn,
      });
    }
    const now = this.scope.now();
    const template: Writable<ProvisioningTemplate> = {
      templateName: name,
      templateArn,
      ...(input.description ? { description: input.description } : {}),
      templateBody: input.templateBody,
      enabled: input.enabled ?? false,
      provisioningRoleArn: input.provisioningRoleArn!,
      ...(hook?.targetArn ? { preProvisioningHook: { targetArn: hook.targetArn, payloadVersion: hook.payloadVersion ?? '2020-04-01' } } : {}),
      type,
      creationDate: now,
      lastModifiedDate: now,
    };
    this.templates.set(name, template);
    return template;
  }

  private templateOf(templateName: string): Writable<ProvisioningTemplate> {
    const template = this.templates.get(templateName);
    if (!template) throw notFound(`The provisioning template ${templateName} does not exist.`);
    return template;
  }

  /** The template, or ResourceNotFoundException. */
  describeTemplate(templateName: string): ProvisioningTemplate {
    return this.templateOf(templateName);
  }

  findTemplate(templateName: string): ProvisioningTemplate | undefined {
    return this.templates.get(templateName);
  }

  listTemplates(paging: Paging): Page<ProvisioningTemplate> {
    return page([...this.templates.values()], paging, { name: 'ListProvisioningTemplates' });
  }

  updateTemplate(
    templateName: string,
    input: {
      description?: string | undefined;
      enabled?: boolean | undefined;
      provisioningRoleArn?: string | undefined;
      preProvisioningHook?: HookInput;
      removePreProvisioningHook?: boolean | undefined;
    },
  ): void {
    const t = this.templateOf(templateName);
    // The same checks as CreateProvisioningTemplate, before anything changes.
    if (input.provisioningRoleArn !== undefined) checkRole(input.provisioningRoleArn);
    if (input.description !== undefined && input.description.length > 500) throw invalid('description is at most 500 characters.');
    if (input.preProvisioningHook && input.removePreProvisioningHook) throw invalid('Cannot set and remove the pre-provisioning hook in the same request.');
    checkHook(input.preProvisioningHook, t.type);
    if (input.description !== undefined) t.description = input.description;
    if (input.enabled !== undefined) t.enabled = input.enabled;
    if (input.provisioningRoleArn !== undefined) t.provisioningRoleArn = input.provisioningRoleArn;
    if (input.preProvisioningHook?.targetArn) {
      t.preProvisioningHook = { targetArn: input.preProvisioningHook.targetArn, payloadVersion: input.preProvisioningHook.payloadVersion ?? '2020-04-01' };
    }
    if (input.removePreProvisioningHook) delete t.preProvisioningHook;
    t.lastModifiedDate = this.scope.now();
  }

  deleteTemplate(templateName: string): void {
    this.templateOf(templateName);
    this.templates.delete(templateName);
  }

  /** When a claim issued now expires: 5 minutes after issue (aws-iot-reference §3.4), on the account's clock. */
  claimExpiration(): Date {
    return new Date(this.scope.now().getTime() + CLAIM_LIFETIME_MS);
  }

  /** Records a claim certificate issued for a template, expiring at `expiration` (its certificate's notAfter). */
  addClaim(certificate: X509Certificate, templateName: string, expiration: Date = this.claimExpiration()): ProvisioningClaim {
    const claim: ProvisioningClaim = {
      certificateId: certificateIdOf(certificate),
      x509: certificate,
      templateName,
      expiration,
    };
    this.claims.set(claim.certificateId, claim);
    this.trust.bump();
    return claim;
  }

  findClaim(certificateId: string): ProvisioningClaim | undefined {
    return this.claims.get(certificateId);
  }
}
