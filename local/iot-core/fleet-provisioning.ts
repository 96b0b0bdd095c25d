import { createHash, randomBytes } from 'node:crypto';
import type { FunctionInvoker } from '../lambda/async-lambda';
import type { AwsIssuer } from './aws-issuer';
import { IotError } from './errors';
import type { IotAccount } from './registry/account';
import type { IotRegistry } from './registry/iot-registry';
import type { ProvisioningTemplate } from './registry/provisioning';
import type { ThingOverride } from './registry/things';
import { evaluateTemplate, TemplateError, type ThingResource } from './template-engine';

/**
 * The fleet-provisioning MQTT API (aws-iot-reference §3.1): CreateKeysAndCertificate,
 * CreateCertificateFromCsr and RegisterThing, with certificate ownership tokens (valid 1 hour; a
 * certificate neither activated nor attached by then is deleted) and the pre-provisioning hook (5 s).
 * Transport-free: the MQTT endpoint passes each request here and publishes the reply on the requester's
 * connection.
 */

export interface Requester {
  account: IotAccount;
  /** The certificate the device connected with (a claim, or any certificate allowed to provision). */
  certificateId: string;
  clientId: string;
  /** Set when the connection uses a CreateProvisioningClaim certificate: it may use this template only. */
  claimTemplateName?: string;
}

export interface FleetReply {
  topic: string;
  payload: Record<string, unknown>;
}


interface OwnershipToken {
  accountId: string;
  certificateId: string;
  expiresAt: number;
}

const TOKEN_LIFETIME_MS = 60 * 60_000;
// The hook must answer within 5 seconds or provisioning fails (aws-iot-reference §3.3).
export const HOOK_TIMEOUT_MS = 5_000;

const CREATE_KEYS = /^\$aws\/certificates\/create\/(json|cbor)$/;
const CREATE_FROM_CSR = /^\$aws\/certificates\/create-from-csr\/(json|cbor)$/;
const REGISTER_THING = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/(json|cbor)$/;

/** Topics of the fleet-provisioning API: requests, and the accepted/rejected replies. */
export function isFleetTopic(topic: string): boolean {
  return topic.startsWith('$aws/certificates/create') || /^\$aws\/provisioning-templates\/[^/]+\/provision\//.test(topic);
}

export function isFleetRequestTopic(topic: string): boolean {
  return CREATE_KEYS.test(topic) || CREATE_FROM_CSR.test(topic) || REGISTER_THING.test(topic);
}

class FleetError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

export class FleetProvisioning {
  private readonly tokens = new Map<string, OwnershipToken>();

  constructor(
    private readonly registry: IotRegistry,
    private readonly issuer: AwsIssuer,
    private readonly invoke: FunctionInvoker,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Handles a request published by a device; `undefined` when the topic is not a fleet-provisioning request. */
  async handle(topic: string, payload: Buffer, requester: Requester): Promise<FleetReply | undefined> {
    const reply = (accepted: boolean, body: Record<string, unknown>): FleetReply => ({
      topic: `${topic}/${accepted ? 'accepted' : 'rejected'}`,
      payload: body,
    });
    const format = /\/(json|cbor)$/.exec(topic)?.[1];
    if (!format || !isFleetRequestTopic(topic)) return undefined;
    try {
      if (format !== 'json') throw new FleetError(400, 'InvalidPayload', 'The local IoT Core supports the json payload format only.');
      this.sweep();
      const body = parseBody(payload);
      if (CREATE_KEYS.test(topic)) return reply(true, await this.createKeysAndCertificate(requester));
      if (CREATE_FROM_CSR.test(topic)) return reply(true, await this.createCertificateFromCsr(requester, body));
      const templateName = REGISTER_THING.exec(topic)![1]!;
      return reply(true, await this.registerThing(requester, templateName, body));
    } catch (error) {
      if (error instanceof FleetError) {
        return reply(false, { statusCode: error.statusCode, errorCode: error.errorCode, errorMessage: error.message });
      }
      if (error instanceof IotError) {
        return reply(false, { statusCode: error.status, errorCode: error.code.replace(/Exception$/, ''), errorMessage: error.message });
      }
      return reply(false, { statusCode: 500, errorCode: 'InternalError', errorMessage: 'An internal error occurred.' });
    }
  }

  private issueToken(account: IotAccount, certificateId: string): string {
    const token = randomBytes(48).toString('base64');
    this.tokens.set(token, { accountId: account.accountId, certificateId, expiresAt: this.now().getTime() + TOKEN_LIFETIME_MS });
    return token;
  }

  async createKeysAndCertificate(requester: Requester) {
    const issued = await this.issuer.createKeysAndCertificate();
    // Certificates created over MQTT start PENDING_ACTIVATION; RegisterThing decides (aws-iot-reference §3.1).
    const record = requester.account.certificates.addIssued(issued.certificate, 'PENDING_ACTIVATION');
    return {
      certificateId: record.certificateId,
      certificatePem: issued.certificatePem,
      privateKey: issued.privateKeyPem,
      certificateOwnershipToken: this.issueToken(requester.account, record.certificateId),
    };
  }

  async createCertificateFromCsr(requester: Requester, body: Record<string, unknown>) {
    if (typeof body.certificateSigningRequest !== 'string' || !body.certificateSigningRequest) {
      throw new FleetError(400, 'InvalidPayload', 'certificateSigningRequest is required.');
    }
    let signed;
    try {
      signed = await this.issuer.signCsr(body.certificateSigningRequest);
    } catch (error) {
      throw new FleetError(400, 'InvalidCsr', (error as Error).message);
    }
    const record = requester.account.certificates.addIssued(signed.certificate, 'PENDING_ACTIVATION');
    return {
      certificateOwnershipToken: this.issueToken(requester.account, record.certificateId),
      certificateId: record.certificateId,
      certificatePem: signed.certificatePem,
    };
  }

  async registerThing(requester: Requester, templateName: string, body: Record<string, unknown>) {
    const { account } = requester;
    const tokenValue = body.certificateOwnershipToken;
    if (typeof tokenValue !== 'string' || !tokenValue) {
      // The message AWS sends for this case (aws-iot-reference §3.1, observed).
      throw new FleetError(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.');
    }
    const token = this.tokens.get(tokenValue);
    if (!token || token.accountId !== account.accountId || token.expiresAt <= this.now().getTime()) {
      throw new FleetError(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token is invalid or has expired.');
    }
    const parameters = parseParameters(body.parameters);
    const template = account.provisioning.findTemplate(templateName);
    if (!template || template.type !== 'FLEET_PROVISIONING') {
      throw new FleetError(404, 'ResourceNotFound', `The provisioning template ${templateName} does not exist.`);
    }
    if (!template.enabled) throw new FleetError(400, 'InvalidRequest', `The provisioning template ${templateName} is disabled.`);
    if (requester.claimTemplateName !== undefined && requester.claimTemplateName !== templateName) {
      throw new FleetError(403, 'AccessDenied', `The claim certificate was issued for template ${requester.claimTemplateName}.`);
    }
    const certificate = account.certificates.find(token.certificateId);
    if (!certificate) throw new FleetError(400, 'InvalidCertificateOwnershipToken', 'The certificate of this token no longer exists.');

    let effective = parameters;
    if (template.preProvisioningHook) {
      const overrides = await this.runHook(template, requester, certificate.certificateId, certificate.x509.toString(), parameters);
      effective = { ...parameters, ...overrides };
    }
    let evaluated;
    try {
      evaluated = evaluateTemplate(template.templateBody, { ...effective, 'AWS::IoT::Certificate::Id': certificate.certificateId });
    } catch (error) {
      if (error instanceof TemplateError) throw new FleetError(400, error.code, error.message);
      throw error;
    }
    const thingName = this.apply(account, evaluated.resources, certificate.certificateId);
    this.tokens.delete(tokenValue);
    return { deviceConfiguration: evaluated.deviceConfiguration, ...(thingName ? { thingName } : {}) };
  }

  private async runHook(
    template: ProvisioningTemplate,
    requester: Requester,
    certificateId: string,
    certificatePem: string,
    parameters: Record<string, string>,
  ): Promise<Record<string, string>> {
    const event = {
      claimCertificateId: requester.certificateId,
      certificateId,
      certificatePem,
      templateArn: template.templateArn,
      clientId: requester.clientId,
      parameters,
    };
    let answer: unknown;
    try {
      answer = await this.invoke(template.preProvisioningHook!.targetArn, event, HOOK_TIMEOUT_MS);
    } catch (error) {
      // A hook that throws or does not answer in 5 s denies provisioning (aws-iot-reference §3.3).
      throw new FleetError(403, 'AccessDenied', `The pre-provisioning hook failed: ${(error as Error).message}`);
    }
    const result = answer as { allowProvisioning?: unknown; parameterOverrides?: unknown } | null;
    if (!result || result.allowProvisioning !== true) {
      throw new FleetError(403, 'AccessDenied', 'The pre-provisioning hook did not allow provisioning.');
    }
    const overrides = result.parameterOverrides ?? {};
    if (typeof overrides !== 'object' || Object.values(overrides).some((v) => typeof v !== 'string')) {
      throw new FleetError(403, 'AccessDenied', 'The pre-provisioning hook returned invalid parameterOverrides.');
    }
    return overrides as Record<string, string>;
  }

  /** Validates every resource, then applies them: thing, groups, policies, attachment, status last. */
  private apply(account: IotAccount, resources: ReturnType<typeof evaluateTemplate>['resources'], certificateId: string): string | undefined {
    const certificate = account.certificates.describe(certificateId);
    const things = resources.filter((r): r is ThingResource => r.type === 'thing');
    if (things.length > 1) throw new FleetError(400, 'InvalidTemplate', 'A template can declare one thing.');
    const thing = things[0];
    for (const r of resources) {
      if (r.type === 'certificate' && r.certificateId !== certificateId) {
        throw new FleetError(400, 'InvalidParameters', 'The template certificate must be the certificate of the ownership token.');
      }
      if (r.type === 'policy' && r.policyName) account.policies.get(r.policyName);
    }
    if (thing) {
      if (thing.thingTypeName) account.things.describeType(thing.thingTypeName);
      for (const group of thing.thingGroups ?? []) account.things.describeGroup(group);
    }

    if (thing) this.applyThing(account, thing);
    for (const r of resources) {
      if (r.type !== 'policy') continue;
      let name = r.policyName;
      if (!name) {
        // Without PolicyName, the policy is named after a hash of its document (aws-iot-reference §3.2).
        name = createHash('sha256').update(r.policyDocument!).digest('hex');
        if (!account.policies.has(name)) account.policies.create(name, { policyDocument: r.policyDocument! });
      }
      account.policies.attach(name, certificate.certificateArn);
    }
    if (thing) account.things.attachPrincipal(thing.thingName, certificate.certificateArn, 'NON_EXCLUSIVE_THING');
    const status = resources.find((r) => r.type === 'certificate');
    account.certificates.updateStatus(certificateId, status?.type === 'certificate' ? status.status : 'ACTIVE');
    return thing?.thingName;
  }

  /** Creates the thing, or applies OverrideSettings to the existing one (default DO_NOTHING, an assumption). */
  private applyThing(account: IotAccount, thing: ThingResource): void {
    if (!account.things.find(thing.thingName)) {
      account.things.create(thing.thingName, {
        ...(thing.thingTypeName ? { thingTypeName: thing.thingTypeName } : {}),
        attributePayload: { attributes: thing.attributes ?? {} },
        ...(thing.billingGroup ? { billingGroupName: thing.billingGroup } : {}),
      });
      for (const group of thing.thingGroups ?? []) account.things.addToGroup({ thingGroupName: group, thingName: thing.thingName });
      return;
    }
    const conflict = (field: string) => {
      throw new FleetError(409, 'ResourceConflict', `Thing ${thing.thingName} exists and OverrideSettings.${field} is FAIL.`);
    };
    const { AttributePayload = 'DO_NOTHING', ThingTypeName = 'DO_NOTHING', ThingGroups = 'DO_NOTHING' } = thing.overrides;
    // Every FAIL is refused before anything changes (RegisterThing validates, then applies).
    const change: ThingOverride = {};
    if (thing.attributes) {
      if (AttributePayload === 'FAIL') conflict('AttributePayload');
      if (AttributePayload === 'MERGE' || AttributePayload === 'REPLACE') change.attributes = { values: thing.attributes, merge: AttributePayload === 'MERGE' };
    }
    if (thing.thingTypeName !== undefined) {
      if (ThingTypeName === 'FAIL') conflict('ThingTypeName');
      if (ThingTypeName === 'REPLACE') change.thingTypeName = thing.thingTypeName;
    }
    if (thing.thingGroups) {
      if (ThingGroups === 'FAIL') conflict('ThingGroups');
      if (ThingGroups === 'REPLACE' || ThingGroups === 'MERGE') change.groups = { names: thing.thingGroups, replace: ThingGroups === 'REPLACE' };
    }
    account.things.override(thing.thingName, change);
  }

  /**
   * Deletes certificates whose ownership token expired before they were activated or attached
   * (aws-iot-reference §3.1).
   */
  sweep(): void {
    const now = this.now().getTime();
    for (const [value, token] of this.tokens) {
      if (token.expiresAt > now) continue;
      this.tokens.delete(value);
      const account = this.registry.account(token.accountId);
      const certificate = account.certificates.find(token.certificateId);
      if (!certificate || certificate.status !== 'PENDING_ACTIVATION') continue;
      const attached = account.things.thingsOf(certificate.certificateArn).length > 0 || account.policies.hasAttached(certificate.certificateArn);
      if (!attached) account.certificates.purge(token.certificateId);
    }
  }
}

function parseBody(payload: Buffer): Record<string, unknown> {
  const text = payload.toString('utf8').trim();
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new FleetError(400, 'InvalidPayload', 'The payload is not a JSON object.');
}

function parseParameters(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new FleetError(400, 'InvalidParameters', 'parameters must be an object of strings.');
  const parameters: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    // Keys up to 2,048 characters, values up to 4,096 (aws-iot-reference §3.2).
    if (typeof v !== 'string' || key.length > 2048 || v.length > 4096) {
      throw new FleetError(400, 'InvalidParameters', `parameter ${key.slice(0, 64)} must be a string of at most 4,096 characters.`);
    }
    parameters[key] = v;
  }
  return parameters;
}
