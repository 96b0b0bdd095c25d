import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { IotError, invalid, notFound } from './errors';
import { certificateIdOf, isIssuedBy, validityOf } from './pem';

/**
 * The AWS IoT registry of the local IoT Core: CA and device certificates, things, policies, groups and
 * types, per account. Operations follow the AWS IoT API semantics collected in aws-iot-reference §0–§4;
 * where AWS documents nothing, the choice is marked "assumption" and listed in local/README.md.
 */

export type CertificateStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'REVOKED'
  | 'PENDING_TRANSFER'
  | 'REGISTER_INACTIVE'
  | 'PENDING_ACTIVATION';
const CERTIFICATE_STATUSES: readonly CertificateStatus[] = [
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
];
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';

interface Versioned {
  creationDate: Date;
  lastModifiedDate: Date;
  customerVersion: number;
  generationId: string;
}

export interface CaCertificate extends Versioned {
  certificateId: string;
  certificateArn: string;
  x509: X509Certificate;
  status: 'ACTIVE' | 'INACTIVE';
  autoRegistrationStatus: 'ENABLE' | 'DISABLE';
  certificateMode: CertificateMode;
  ownedBy: string;
  registrationConfig?: Record<string, unknown>;
}

export interface DeviceCertificate extends Versioned {
  certificateId: string;
  certificateArn: string;
  x509: X509Certificate;
  caCertificateId?: string;
  status: CertificateStatus;
  certificateMode: CertificateMode;
  ownedBy: string;
}

export interface Thing {
  thingName: string;
  thingId: string;
  thingArn: string;
  thingTypeName?: string;
  attributes: Record<string, string>;
  billingGroupName?: string;
  version: number;
}

export interface Policy {
  policyName: string;
  policyArn: string;
  policyDocument: string;
  creationDate: Date;
  lastModifiedDate: Date;
  generationId: string;
}

export interface ThingGroup {
  thingGroupName: string;
  thingGroupId: string;
  thingGroupArn: string;
  version: number;
  thingGroupProperties: Record<string, unknown>;
  parentGroupName?: string;
  creationDate: Date;
}

export interface ThingType {
  thingTypeName: string;
  thingTypeId: string;
  thingTypeArn: string;
  thingTypeProperties: Record<string, unknown>;
  creationDate: Date;
}

type PrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

export interface ProvisioningTemplate {
  templateName: string;
  templateArn: string;
  description?: string;
  templateBody: string;
  enabled: boolean;
  provisioningRoleArn: string;
  preProvisioningHook?: { targetArn: string; payloadVersion: string };
  type: 'FLEET_PROVISIONING' | 'JITP';
  creationDate: Date;
  lastModifiedDate: Date;
}

export interface RoleAlias {
  roleAlias: string;
  roleAliasArn: string;
  roleArn: string;
  owner: string;
  credentialDurationSeconds: number;
  creationDate: Date;
  lastModifiedDate: Date;
}

/** A temporary claim certificate from CreateProvisioningClaim: valid 5 minutes, not in the certificate list. */
export interface ProvisioningClaim {
  certificateId: string;
  x509: X509Certificate;
  templateName: string;
  expiration: Date;
}

export class AccountState {
  registrationCode?: string;
  readonly caCertificates = new Map<string, CaCertificate>();
  readonly certificates = new Map<string, DeviceCertificate>();
  readonly things = new Map<string, Thing>();
  readonly policies = new Map<string, Policy>();
  readonly thingGroups = new Map<string, ThingGroup>();
  readonly thingTypes = new Map<string, ThingType>();
  /** thing name → principal ARN → attachment type */
  readonly thingPrincipals = new Map<string, Map<string, PrincipalType>>();
  /** principal (target) ARN → policy names */
  readonly principalPolicies = new Map<string, Set<string>>();
  /** thing name → group names */
  readonly thingGroupMembership = new Map<string, Set<string>>();
  readonly provisioningTemplates = new Map<string, ProvisioningTemplate>();
  readonly provisioningClaims = new Map<string, ProvisioningClaim>();
  readonly roleAliases = new Map<string, RoleAlias>();
  /** Stable per account and region, as AWS's endpoint prefix is (aws-iot-reference §4 DescribeEndpoint). */
  readonly endpointPrefix: string;

  constructor(
    readonly accountId: string,
    readonly region: string,
  ) {
    this.endpointPrefix = `a${createHash('sha256').update(`${accountId}/${region}`).digest('hex').slice(0, 13)}`;
  }

  arn(resource: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:${resource}`;
  }
}

export type EndpointType = 'iot:Data' | 'iot:Data-ATS' | 'iot:CredentialProvider' | 'iot:Jobs';

export interface IotRegistryOptions {
  region: string;
  defaultAccountId: string;
  now?: () => Date;
  /** Hostname DescribeEndpoint returns; defaults to AWS's formats. */
  endpointAddress?: (account: AccountState, type: EndpointType) => string;
}

const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
const GROUP_OR_TYPE_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const MAX_POLICIES_PER_PRINCIPAL = 10;
const MAX_CAS_PER_SUBJECT = 10;

function parseCertificate(pem: unknown, what: string): X509Certificate {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new IotError('CertificateValidationException', `The ${what} is not a valid PEM certificate.`);
  }
  try {
    return new X509Certificate(pem);
  } catch {
    throw new IotError('CertificateValidationException', `The ${what} is not a valid X.509 certificate.`);
  }
}

function commonNameOf(certificate: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
}

const generationId = () => randomUUID();
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function page<T>(items: T[], size: number | undefined, marker: string | undefined): { items: T[]; next?: string } {
  const start = marker ? Number.parseInt(marker, 10) || 0 : 0;
  const limit = size && size > 0 ? size : 250;
  const slice = items.slice(start, start + limit);
  return start + limit < items.length ? { items: slice, next: String(start + limit) } : { items: slice };
}

export class IotRegistry {
  /**
   * Grows with every change to what the TLS trust stores hold — CA certificates and certificates registered
   * without a CA — so they rebuild when it moves. A certificate under a registered CA (a JITR registration)
   * leaves it alone: thousands of first connects must not rebuild the TLS context thousands of times.
   */
  revision = 0;
  readonly region: string;
  readonly defaultAccountId: string;
  private readonly accounts = new Map<string, AccountState>();
  private readonly now: () => Date;
  private readonly endpointAddress: (account: AccountState, type: EndpointType) => string;

  constructor(options: IotRegistryOptions) {
    this.region = options.region;
    this.defaultAccountId = options.defaultAccountId;
    this.now = options.now ?? (() => new Date());
    this.endpointAddress = options.endpointAddress ?? IotRegistry.awsEndpointAddress;
  }

  /** The endpoint names AWS gives an account (aws-iot-reference §4, DescribeEndpoint). */
  static awsEndpointAddress(account: AccountState, type: EndpointType): string {
    const domain = `iot.${account.region}.amazonaws.com`;
    switch (type) {
      case 'iot:Data':
        return `${account.endpointPrefix}.${domain}`;
      case 'iot:Data-ATS':
        return `${account.endpointPrefix}-ats.${domain}`;
      case 'iot:CredentialProvider':
        return `${account.endpointPrefix}.credentials.${domain}`;
      case 'iot:Jobs':
        return `${account.endpointPrefix}.jobs.${domain}`;
    }
  }

  account(accountId: string = this.defaultAccountId): AccountState {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = new AccountState(accountId, this.region);
      this.accounts.set(accountId, account);
    }
    return account;
  }

  allAccounts(): AccountState[] {
    return [...this.accounts.values()];
  }

  private versioned(): Versioned {
    const now = this.now();
    return { creationDate: now, lastModifiedDate: now, customerVersion: 1, generationId: generationId() };
  }

  private touch(record: Versioned): void {
    record.lastModifiedDate = this.now();
    record.customerVersion += 1;
    record.generationId = generationId();
  }

  // ---- registration code and CA certificates (aws-iot-reference §2) ----

  getRegistrationCode(account: AccountState) {
    account.registrationCode ??= randomBytes(32).toString('hex');
    return { registrationCode: account.registrationCode };
  }

  deleteRegistrationCode(account: AccountState) {
    delete account.registrationCode;
    return {};
  }

  registerCaCertificate(
    account: AccountState,
    input: {
      caCertificate?: string;
      verificationCertificate?: string;
      setAsActive?: boolean;
      allowAutoRegistration?: boolean;
      registrationConfig?: Record<string, unknown>;
      certificateMode?: string;
    },
  ) {
    const mode = input.certificateMode ?? 'DEFAULT';
    if (mode !== 'DEFAULT' && mode !== 'SNI_ONLY') throw invalid(`Invalid certificateMode: ${mode}`);
    const ca = parseCertificate(input.caCertificate, 'CA certificate');
    if (!ca.ca) throw new IotError('CertificateValidationException', 'The certificate is not a CA certificate.');
    const { notBefore, notAfter } = validityOf(ca);
    const now = this.now();
    if (now < notBefore || now > notAfter) {
      throw new IotError('CertificateValidationException', 'The CA certificate is expired or not yet valid.');
    }
    if (mode === 'SNI_ONLY' && input.verificationCertificate) {
      throw invalid('verificationCertificate must not be provided when certificateMode is SNI_ONLY.');
    }
    if (mode === 'DEFAULT') {
      if (!input.verificationCertificate) {
        throw invalid('verificationCertificate is required when certificateMode is DEFAULT.');
      }
      const verification = parseCertificate(input.verificationCertificate, 'verification certificate');
      if (!isIssuedBy(verification, ca)) {
        throw new IotError('CertificateValidationException', 'The verification certificate is not signed by the CA certificate.');
      }
      if (!account.registrationCode || commonNameOf(verification) !== account.registrationCode) {
        throw new IotError(
          'RegistrationCodeValidationException',
          'The verification certificate does not contain the registration code of this account in its Common Name.',
        );
      }
    }
    const certificateId = certificateIdOf(ca);
    const certificateArn = account.arn(`cacert/${certificateId}`);
    if (account.caCertificates.has(certificateId)) {
      throw new IotError('ResourceAlreadyExistsException', 'The CA certificate is already registered.', {
        resourceId: certificateId,
        resourceArn: certificateArn,
      });
    }
    // A DEFAULT-mode CA can be registered by one account per region (aws-iot-reference §2). The error for a
    // second account is not documented; ResourceAlreadyExistsException is an assumption.
    if (mode === 'DEFAULT') {
      const owner = this.allAccounts().find(
        (other) => other !== account && other.caCertificates.get(certificateId)?.certificateMode === 'DEFAULT',
      );
      if (owner) {
        throw new IotError(
          'ResourceAlreadyExistsException',
          'The CA certificate is already registered in DEFAULT mode by another account; register it with certificateMode SNI_ONLY.',
          { resourceId: certificateId },
        );
      }
    }
    const sameSubject = [...account.caCertificates.values()].filter((c) => c.x509.subject === ca.subject);
    if (sameSubject.length >= MAX_CAS_PER_SUBJECT) {
      throw new IotError('LimitExceededException', 'At most 10 CA certificates with the same subject can be registered.');
    }
    this.revision++;
    account.caCertificates.set(certificateId, {
      certificateId,
      certificateArn,
      x509: ca,
      status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
      certificateMode: mode,
      ownedBy: account.accountId,
      ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
      ...this.versioned(),
    });
    return { certificateArn, certificateId };
  }

  private caOf(account: AccountState, certificateId: string): CaCertificate {
    const ca = account.caCertificates.get(certificateId.toLowerCase());
    if (!ca) throw notFound(`The CA certificate ${certificateId} does not exist.`);
    return ca;
  }

  updateCaCertificate(
    account: AccountState,
    certificateId: string,
    input: {
      newStatus?: string;
      newAutoRegistrationStatus?: string;
      registrationConfig?: Record<string, unknown>;
      removeAutoRegistration?: boolean;
    },
  ) {
    const ca = this.caOf(account, certificateId);
    if (input.newStatus !== undefined && input.newStatus !== 'ACTIVE' && input.newStatus !== 'INACTIVE') {
      throw invalid(`Invalid newStatus for a CA certificate: ${input.newStatus}`);
    }
    if (
      input.newAutoRegistrationStatus !== undefined &&
      input.newAutoRegistrationStatus !== 'ENABLE' &&
      input.newAutoRegistrationStatus !== 'DISABLE'
    ) {
      throw invalid(`Invalid newAutoRegistrationStatus: ${input.newAutoRegistrationStatus}`);
    }
    if (input.newStatus) ca.status = input.newStatus;
    if (input.newAutoRegistrationStatus) ca.autoRegistrationStatus = input.newAutoRegistrationStatus;
    if (input.registrationConfig) ca.registrationConfig = input.registrationConfig;
    if (input.removeAutoRegistration) delete ca.registrationConfig;
    this.touch(ca);
    return {};
  }

  describeCaCertificate(account: AccountState, certificateId: string) {
    const ca = this.caOf(account, certificateId);
    return {
      certificateDescription: {
        certificateArn: ca.certificateArn,
        certificateId: ca.certificateId,
        status: ca.status,
        certificatePem: ca.x509.toString(),
        ownedBy: ca.ownedBy,
        creationDate: ca.creationDate,
        autoRegistrationStatus: ca.autoRegistrationStatus,
        lastModifiedDate: ca.lastModifiedDate,
        customerVersion: ca.customerVersion,
        generationId: ca.generationId,
        validity: validityOf(ca.x509),
        certificateMode: ca.certificateMode,
      },
      ...(ca.registrationConfig ? { registrationConfig: ca.registrationConfig } : {}),
    };
  }

  listCaCertificates(account: AccountState, input: { pageSize?: number; marker?: string }) {
    const all = [...account.caCertificates.values()].map((ca) => ({
      certificateArn: ca.certificateArn,
      certificateId: ca.certificateId,
      status: ca.status,
      creationDate: ca.creationDate,
    }));
    const { items, next } = page(all, input.pageSize, input.marker);
    return { certificates: items, ...(next ? { nextMarker: next } : {}) };
  }

  deleteCaCertificate(account: AccountState, certificateId: string) {
    const ca = this.caOf(account, certificateId);
    if (ca.status === 'ACTIVE') {
      throw new IotError('CertificateStateException', 'A CA certificate must be INACTIVE before it is deleted.');
    }
    account.caCertificates.delete(ca.certificateId);
    this.revision++;
    return {};
  }

  // ---- device certificates ----

  /** The registered CA of this account that issued the certificate, if any. */
  issuingCa(account: AccountState, certificate: X509Certificate): CaCertificate | undefined {
    return [...account.caCertificates.values()].find((ca) => isIssuedBy(certificate, ca.x509));
  }

  private addCertificate(
    account: AccountState,
    x509: X509Certificate,
    fields: { status: CertificateStatus; certificateMode: CertificateMode; caCertificateId?: string },
  ): DeviceCertificate {
    const certificateId = certificateIdOf(x509);
    const certificateArn = account.arn(`cert/${certificateId}`);
    if (account.certificates.has(certificateId)) {
      throw new IotError('ResourceAlreadyExistsException', 'The certificate is already registered.', {
        resourceId: certificateId,
        resourceArn: certificateArn,
      });
    }
    const record: DeviceCertificate = {
      certificateId,
      certificateArn,
      x509,
      ownedBy: account.accountId,
      ...fields,
      ...this.versioned(),
    };
    account.certificates.set(certificateId, record);
    if (!record.caCertificateId) this.revision++;
    return record;
  }

  private initialStatus(input: { status?: string; setAsActive?: boolean }): CertificateStatus {
    if (input.status !== undefined) {
      if (!CERTIFICATE_STATUSES.includes(input.status as CertificateStatus)) throw invalid(`Invalid status: ${input.status}`);
      return input.status as CertificateStatus;
    }
    return input.setAsActive ? 'ACTIVE' : 'INACTIVE';
  }

  registerCertificate(
    account: AccountState,
    input: { certificatePem?: string; caCertificatePem?: string; setAsActive?: boolean; status?: string },
  ) {
    const certificate = parseCertificate(input.certificatePem, 'certificate');
    let ca: CaCertificate | undefined;
    if (input.caCertificatePem) {
      const caX509 = parseCertificate(input.caCertificatePem, 'CA certificate');
      ca = account.caCertificates.get(certificateIdOf(caX509));
      if (!ca) throw new IotError('CertificateValidationException', 'The CA certificate is not registered in this account.');
      if (!isIssuedBy(certificate, ca.x509)) {
        throw new IotError('CertificateValidationException', 'The certificate is not signed by the given CA certificate.');
      }
    } else {
      ca = this.issuingCa(account, certificate);
      if (!ca) {
        throw new IotError('CertificateValidationException', 'The certificate is not signed by a CA registered in this account.');
      }
    }
    // Assumption: registering under an INACTIVE CA is refused as a state error.
    if (ca.status !== 'ACTIVE') throw new IotError('CertificateStateException', 'The CA certificate is not ACTIVE.');
    const record = this.addCertificate(account, certificate, {
      status: this.initialStatus(input),
      certificateMode: ca.certificateMode,
      caCertificateId: ca.certificateId,
    });
    return { certificateArn: record.certificateArn, certificateId: record.certificateId };
  }

  registerCertificateWithoutCa(account: AccountState, input: { certificatePem?: string; status?: string }) {
    const certificate = parseCertificate(input.certificatePem, 'certificate');
    const record = this.addCertificate(account, certificate, {
      status: this.initialStatus(input),
      certificateMode: 'SNI_ONLY',
    });
    return { certificateArn: record.certificateArn, certificateId: record.certificateId };
  }

  /** A certificate AWS IoT issued itself (CreateKeysAndCertificate, CSR): no CA, DEFAULT mode. */
  addIssuedCertificate(account: AccountState, certificate: X509Certificate, status: CertificateStatus): DeviceCertificate {
    return this.addCertificate(account, certificate, { status, certificateMode: 'DEFAULT' });
  }

  /** Removes a certificate whatever its state (the 1-hour ownership-token expiry of fleet provisioning). */
  purgeCertificate(account: AccountState, certificateId: string): void {
    const certificate = account.certificates.get(certificateId);
    if (!certificate) return;
    account.principalPolicies.delete(certificate.certificateArn);
    for (const principals of account.thingPrincipals.values()) principals.delete(certificate.certificateArn);
    account.certificates.delete(certificateId);
    if (!certificate.caCertificateId) this.revision++;
  }

  /** JITR: a certificate first seen on connect, registered PENDING_ACTIVATION (aws-iot-reference §1.2). */
  autoRegister(account: AccountState, certificate: X509Certificate, ca: CaCertificate): DeviceCertificate {
    return this.addCertificate(account, certificate, {
      status: 'PENDING_ACTIVATION',
      certificateMode: ca.certificateMode,
      caCertificateId: ca.certificateId,
    });
  }

  certificateOf(account: AccountState, certificateId: string): DeviceCertificate {
    const certificate = account.certificates.get(certificateId.toLowerCase());
    if (!certificate) throw notFound(`The certificate ${certificateId} does not exist.`);
    return certificate;
  }

  describeCertificate(account: AccountState, certificateId: string) {
    const c = this.certificateOf(account, certificateId);
    return {
      certificateDescription: {
        certificateArn: c.certificateArn,
        certificateId: c.certificateId,
        ...(c.caCertificateId ? { caCertificateId: c.caCertificateId } : {}),
        status: c.status,
        certificatePem: c.x509.toString(),
        ownedBy: c.ownedBy,
        creationDate: c.creationDate,
        lastModifiedDate: c.lastModifiedDate,
        customerVersion: c.customerVersion,
        transferData: {},
        generationId: c.generationId,
        validity: validityOf(c.x509),
        certificateMode: c.certificateMode,
      },
    };
  }

  listCertificates(account: AccountState, input: { pageSize?: number; marker?: string }) {
    const all = [...account.certificates.values()].map((c) => ({
      certificateArn: c.certificateArn,
      certificateId: c.certificateId,
      status: c.status,
      certificateMode: c.certificateMode,
      creationDate: c.creationDate,
    }));
    const { items, next } = page(all, input.pageSize, input.marker);
    return { certificates: items, ...(next ? { nextMarker: next } : {}) };
  }

  updateCertificate(account: AccountState, certificateId: string, newStatus: string | undefined) {
    const c = this.certificateOf(account, certificateId);
    if (!newStatus || !CERTIFICATE_STATUSES.includes(newStatus as CertificateStatus)) {
      throw invalid(`Invalid newStatus: ${newStatus ?? '(missing)'}`);
    }
    if (newStatus === c.status) return {}; // idempotent
    // Setting PENDING_TRANSFER or PENDING_ACTIVATION raises an exception; which one is not documented
    // (aws-iot-reference §4): InvalidRequestException is an assumption.
    if (newStatus === 'PENDING_TRANSFER' || newStatus === 'PENDING_ACTIVATION') {
      throw invalid(`A certificate cannot be set to ${newStatus}.`);
    }
    // REVOKED is terminal (aws-iot-reference §4); CertificateStateException is the plausible error.
    if (c.status === 'REVOKED') throw new IotError('CertificateStateException', 'The certificate is revoked; its status cannot change.');
    if (c.status === 'PENDING_TRANSFER') {
      throw new IotError('CertificateStateException', 'The certificate is being transferred; its status cannot change.');
    }
    c.status = newStatus as CertificateStatus;
    this.touch(c);
    return {};
  }

  deleteCertificate(account: AccountState, certificateId: string, forceDelete: boolean) {
    const c = this.certificateOf(account, certificateId);
    if (c.status === 'ACTIVE') {
      throw new IotError('CertificateStateException', 'The certificate is ACTIVE; deactivate it before deleting it.');
    }
    if (this.thingsOfPrincipal(account, c.certificateArn).length > 0) {
      throw new IotError('DeleteConflictException', 'Things are attached to the certificate; detach them first.');
    }
    const policies = account.principalPolicies.get(c.certificateArn);
    if (policies?.size && !forceDelete) {
      throw new IotError('DeleteConflictException', 'Policies are attached to the certificate; detach them or use forceDelete.');
    }
    account.principalPolicies.delete(c.certificateArn);
    account.certificates.delete(c.certificateId);
    if (!c.caCertificateId) this.revision++;
    return {};
  }

  // ---- things, types and groups ----

  private thingTypeOf(account: AccountState, name: string): ThingType {
    const type = account.thingTypes.get(name);
    if (!type) throw notFound(`The thing type ${name} does not exist.`);
    return type;
  }

  createThing(
    account: AccountState,
    thingName: string,
    input: { thingTypeName?: string; attributePayload?: { attributes?: Record<string, string> }; billingGroupName?: string },
  ) {
    if (!THING_NAME.test(thingName)) throw invalid(`Thing name ${thingName} must match [a-zA-Z0-9:_-]{1,128}.`);
    const attributes = input.attributePayload?.attributes ?? {};
    if (input.thingTypeName) this.thingTypeOf(account, input.thingTypeName);
    const maxAttributes = input.thingTypeName ? 50 : 3;
    if (Object.keys(attributes).length > maxAttributes) {
      throw invalid(`A thing ${input.thingTypeName ? 'with' : 'without'} a thing type can have at most ${maxAttributes} attributes.`);
    }
    for (const [name, value] of Object.entries(attributes)) {
      if (name.length > 128 || typeof value !== 'string' || value.length > 800) {
        throw invalid('Attribute names are at most 128 characters and values at most 800.');
      }
    }
    const existing = account.things.get(thingName);
    if (existing) {
      // Same name and same configuration succeeds; a different configuration conflicts (aws-iot-reference §4).
      const same =
        existing.thingTypeName === input.thingTypeName &&
        existing.billingGroupName === input.billingGroupName &&
        sameJson(existing.attributes, attributes);
      if (!same) {
        throw new IotError('ResourceAlreadyExistsException', `Thing ${thingName} already exists with a different configuration.`, {
          resourceId: existing.thingId,
          resourceArn: existing.thingArn,
        });
      }
      return { thingName, thingArn: existing.thingArn, thingId: existing.thingId };
    }
    const thing: Thing = {
      thingName,
      thingId: randomUUID(),
      thingArn: account.arn(`thing/${thingName}`),
      attributes: { ...attributes },
      version: 1,
      ...(input.thingTypeName ? { thingTypeName: input.thingTypeName } : {}),
      ...(input.billingGroupName ? { billingGroupName: input.billingGroupName } : {}),
    };
    account.things.set(thingName, thing);
    return { thingName, thingArn: thing.thingArn, thingId: thing.thingId };
  }

  thingOf(account: AccountState, thingName: string): Thing {
    const thing = account.things.get(thingName);
    if (!thing) throw notFound(`Thing ${thingName} cannot be found.`);
    return thing;
  }

  describeThing(account: AccountState, thingName: string) {
    const t = this.thingOf(account, thingName);
    return {
      defaultClientId: t.thingName,
      thingName: t.thingName,
      thingId: t.thingId,
      thingArn: t.thingArn,
      ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
      attributes: t.attributes,
      version: t.version,
      ...(t.billingGroupName ? { billingGroupName: t.billingGroupName } : {}),
    };
  }

  deleteThing(account: AccountState, thingName: string, expectedVersion?: number) {
    const t = account.things.get(thingName);
    if (!t) return {}; // AWS: deleting a thing that does not exist succeeds
    if (expectedVersion !== undefined && expectedVersion !== t.version) {
      throw new IotError('VersionConflictException', `Thing ${thingName} is at version ${t.version}.`);
    }
    if (account.thingPrincipals.get(thingName)?.size) {
      throw invalid(`Thing ${thingName} has principals attached; detach them before deleting it.`);
    }
    account.things.delete(thingName);
    account.thingGroupMembership.delete(thingName);
    return {};
  }

  listThings(account: AccountState, input: { maxResults?: number; nextToken?: string; thingTypeName?: string }) {
    const all = [...account.things.values()]
      .filter((t) => !input.thingTypeName || t.thingTypeName === input.thingTypeName)
      .map((t) => ({
        thingName: t.thingName,
        thingArn: t.thingArn,
        ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
        attributes: t.attributes,
        version: t.version,
      }));
    const { items, next } = page(all, input.maxResults, input.nextToken);
    return { things: items, ...(next ? { nextToken: next } : {}) };
  }

  createThingType(account: AccountState, thingTypeName: string, input: { thingTypeProperties?: Record<string, unknown> }) {
    if (!GROUP_OR_TYPE_NAME.test(thingTypeName)) throw invalid(`Invalid thing type name ${thingTypeName}.`);
    let type = account.thingTypes.get(thingTypeName);
    if (!type) {
      type = {
        thingTypeName,
        thingTypeId: randomUUID(),
        thingTypeArn: account.arn(`thingtype/${thingTypeName}`),
        thingTypeProperties: input.thingTypeProperties ?? {},
        creationDate: this.now(),
      };
      account.thingTypes.set(thingTypeName, type);
    }
    return { thingTypeName, thingTypeArn: type.thingTypeArn, thingTypeId: type.thingTypeId };
  }

  describeThingType(account: AccountState, thingTypeName: string) {
    const t = this.thingTypeOf(account, thingTypeName);
    return {
      thingTypeName: t.thingTypeName,
      thingTypeId: t.thingTypeId,
      thingTypeArn: t.thingTypeArn,
      thingTypeProperties: t.thingTypeProperties,
      thingTypeMetadata: { deprecated: false, creationDate: t.creationDate },
    };
  }

  private groupOf(account: AccountState, name: string): ThingGroup {
    const group = account.thingGroups.get(name);
    if (!group) throw notFound(`Thing group ${name} cannot be found.`);
    return group;
  }

  createThingGroup(
    account: AccountState,
    thingGroupName: string,
    input: { parentGroupName?: string; thingGroupProperties?: Record<string, unknown> },
  ) {
    if (!GROUP_OR_TYPE_NAME.test(thingGroupName)) throw invalid(`Invalid thing group name ${thingGroupName}.`);
    if (input.parentGroupName) this.groupOf(account, input.parentGroupName);
    const existing = account.thingGroups.get(thingGroupName);
    if (existing) {
      if (!sameJson(existing.thingGroupProperties, input.thingGroupProperties ?? {}) || existing.parentGroupName !== input.parentGroupName) {
        throw new IotError('ResourceAlreadyExistsException', `Thing group ${thingGroupName} already exists with a different configuration.`, {
          resourceId: existing.thingGroupId,
          resourceArn: existing.thingGroupArn,
        });
      }
      return { thingGroupName, thingGroupArn: existing.thingGroupArn, thingGroupId: existing.thingGroupId };
    }
    const group: ThingGroup = {
      thingGroupName,
      thingGroupId: randomUUID(),
      thingGroupArn: account.arn(`thinggroup/${thingGroupName}`),
      version: 1,
      thingGroupProperties: input.thingGroupProperties ?? {},
      ...(input.parentGroupName ? { parentGroupName: input.parentGroupName } : {}),
      creationDate: this.now(),
    };
    account.thingGroups.set(thingGroupName, group);
    return { thingGroupName, thingGroupArn: group.thingGroupArn, thingGroupId: group.thingGroupId };
  }

  describeThingGroup(account: AccountState, thingGroupName: string) {
    const g = this.groupOf(account, thingGroupName);
    return {
      thingGroupName: g.thingGroupName,
      thingGroupId: g.thingGroupId,
      thingGroupArn: g.thingGroupArn,
      version: g.version,
      thingGroupProperties: g.thingGroupProperties,
      thingGroupMetadata: {
        creationDate: g.creationDate,
        ...(g.parentGroupName ? { parentGroupName: g.parentGroupName } : {}),
      },
      status: 'ACTIVE',
    };
  }

  addThingToThingGroup(
    account: AccountState,
    input: { thingGroupName?: string; thingGroupArn?: string; thingName?: string; thingArn?: string },
  ) {
    const groupName = input.thingGroupName ?? input.thingGroupArn?.split('thinggroup/')[1];
    const thingName = input.thingName ?? input.thingArn?.split(':thing/')[1];
    if (!groupName || !thingName) throw invalid('A thing group and a thing must be given.');
    this.groupOf(account, groupName);
    this.thingOf(account, thingName);
    const groups = account.thingGroupMembership.get(thingName) ?? new Set<string>();
    if (!groups.has(groupName) && groups.size >= 10) {
      throw invalid('A thing can be a member of at most 10 thing groups.');
    }
    groups.add(groupName);
    account.thingGroupMembership.set(thingName, groups);
    return {};
  }

  listThingGroupsForThing(account: AccountState, thingName: string) {
    this.thingOf(account, thingName);
    const groups = [...(account.thingGroupMembership.get(thingName) ?? [])].map((name) => ({
      groupName: name,
      groupArn: account.thingGroups.get(name)?.thingGroupArn,
    }));
    return { thingGroups: groups };
  }

  // ---- principals ----

  private certificateByArn(account: AccountState, arn: string | undefined): DeviceCertificate {
    if (!arn) throw invalid('A principal must be given.');
    const id = /:cert\/([a-fA-F0-9]{64})$/.exec(arn)?.[1];
    const certificate = id ? account.certificates.get(id.toLowerCase()) : undefined;
    if (!certificate || certificate.certificateArn !== arn) throw notFound(`Principal ${arn} cannot be found.`);
    return certificate;
  }

  thingsOfPrincipal(account: AccountState, principal: string): Array<[string, PrincipalType]> {
    const out: Array<[string, PrincipalType]> = [];
    for (const [thingName, principals] of account.thingPrincipals) {
      const type = principals.get(principal);
      if (type) out.push([thingName, type]);
    }
    return out;
  }

  attachThingPrincipal(account: AccountState, thingName: string, principal: string | undefined, type: string | undefined) {
    this.thingOf(account, thingName);
    const certificate = this.certificateByArn(account, principal);
    const attachmentType: PrincipalType = type === 'EXCLUSIVE_THING' ? 'EXCLUSIVE_THING' : 'NON_EXCLUSIVE_THING';
    if (type !== undefined && type !== 'EXCLUSIVE_THING' && type !== 'NON_EXCLUSIVE_THING') {
      throw invalid(`Invalid thingPrincipalType: ${type}`);
    }
    const others = this.thingsOfPrincipal(account, certificate.certificateArn).filter(([name]) => name !== thingName);
    if (others.some(([, t]) => t === 'EXCLUSIVE_THING')) {
      throw invalid(`Principal is exclusively attached to thing ${others[0]![0]}.`);
    }
    if (attachmentType === 'EXCLUSIVE_THING' && others.length > 0) {
      throw invalid(`Principal is already attached to thing ${others[0]![0]}; it cannot be attached exclusively.`);
    }
    const principals = account.thingPrincipals.get(thingName) ?? new Map<string, PrincipalType>();
    principals.set(certificate.certificateArn, attachmentType);
    account.thingPrincipals.set(thingName, principals);
    return {};
  }

  detachThingPrincipal(account: AccountState, thingName: string, principal: string | undefined) {
    this.thingOf(account, thingName);
    if (!principal) throw invalid('A principal must be given.');
    account.thingPrincipals.get(thingName)?.delete(principal);
    return {};
  }

  listThingPrincipals(account: AccountState, thingName: string) {
    this.thingOf(account, thingName);
    return { principals: [...(account.thingPrincipals.get(thingName)?.keys() ?? [])] };
  }

  listPrincipalThings(account: AccountState, principal: string | undefined) {
    const certificate = this.certificateByArn(account, principal);
    return { things: this.thingsOfPrincipal(account, certificate.certificateArn).map(([name]) => name) };
  }

  // ---- policies ----

  createPolicy(account: AccountState, policyName: string, input: { policyDocument?: string }) {
    if (!POLICY_NAME.test(policyName)) throw invalid(`Invalid policy name ${policyName}.`);
    const document = input.policyDocument;
    if (typeof document !== 'string') throw new IotError('MalformedPolicyException', 'The policy document is missing.');
    validatePolicyDocument(document);
    if (account.policies.has(policyName)) {
      const existing = account.policies.get(policyName)!;
      throw new IotError('ResourceAlreadyExistsException', `Policy ${policyName} already exists.`, {
        resourceId: policyName,
        resourceArn: existing.policyArn,
      });
    }
    const now = this.now();
    const policy: Policy = {
      policyName,
      policyArn: account.arn(`policy/${policyName}`),
      policyDocument: document,
      creationDate: now,
      lastModifiedDate: now,
      generationId: generationId(),
    };
    account.policies.set(policyName, policy);
    return { policyName, policyArn: policy.policyArn, policyDocument: document, policyVersionId: '1' };
  }

  policyOf(account: AccountState, policyName: string): Policy {
    const policy = account.policies.get(policyName);
    if (!policy) throw notFound(`Policy ${policyName} cannot be found.`);
    return policy;
  }

  getPolicy(account: AccountState, policyName: string) {
    const p = this.policyOf(account, policyName);
    return {
      policyName: p.policyName,
      policyArn: p.policyArn,
      policyDocument: p.policyDocument,
      defaultVersionId: '1',
      creationDate: p.creationDate,
      lastModifiedDate: p.lastModifiedDate,
      generationId: p.generationId,
    };
  }

  deletePolicy(account: AccountState, policyName: string) {
    this.policyOf(account, policyName);
    for (const policies of account.principalPolicies.values()) {
      if (policies.has(policyName)) throw new IotError('DeleteConflictException', `Policy ${policyName} is attached to principals.`);
    }
    account.policies.delete(policyName);
    return {};
  }

  attachPolicy(account: AccountState, policyName: string, target: string | undefined) {
    this.policyOf(account, policyName);
    if (!target) throw invalid('A target must be given.');
    if (target.includes(':cert/')) this.certificateByArn(account, target);
    else if (target.includes(':thinggroup/')) this.groupOf(account, target.split('thinggroup/')[1] ?? '');
    const policies = account.principalPolicies.get(target) ?? new Set<string>();
    if (!policies.has(policyName) && policies.size >= MAX_POLICIES_PER_PRINCIPAL) {
      throw new IotError('LimitExceededException', 'At most 10 policies can be attached to a principal.');
    }
    policies.add(policyName);
    account.principalPolicies.set(target, policies);
    return {};
  }

  detachPolicy(account: AccountState, policyName: string, target: string | undefined) {
    if (!target) throw invalid('A target must be given.');
    account.principalPolicies.get(target)?.delete(policyName);
    return {};
  }

  listAttachedPolicies(account: AccountState, target: string) {
    const names = [...(account.principalPolicies.get(target) ?? [])];
    return {
      policies: names.map((policyName) => ({ policyName, policyArn: account.arn(`policy/${policyName}`) })),
    };
  }

  // ---- provisioning templates and claims (aws-iot-reference §3) ----

  createProvisioningTemplate(
    account: AccountState,
    input: {
      templateName?: string;
      templateBody?: string;
      provisioningRoleArn?: string;
      description?: string;
      enabled?: boolean;
      preProvisioningHook?: { targetArn?: string; payloadVersion?: string };
      type?: string;
    },
  ) {
    const name = input.templateName ?? '';
    if (!/^[0-9A-Za-z_-]{1,36}$/.test(name)) throw invalid('templateName must be 1-36 characters of [0-9A-Za-z_-].');
    if (typeof input.templateBody !== 'string' || input.templateBody.length > 10_240) {
      throw invalid('templateBody must be a JSON document of at most 10,240 characters.');
    }
    try {
      const body = JSON.parse(input.templateBody) as unknown;
      if (!body || typeof body !== 'object' || !(body as { Resources?: unknown }).Resources) throw new Error('no Resources');
    } catch (error) {
      throw invalid(`templateBody is not a valid provisioning template: ${(error as Error).message}`);
    }
    if (!input.provisioningRoleArn || input.provisioningRoleArn.length < 20) throw invalid('provisioningRoleArn is required.');
    const type = input.type ?? 'FLEET_PROVISIONING';
    if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') throw invalid(`Invalid template type ${type}.`);
    const hook = input.preProvisioningHook;
    if (hook) {
      if (type !== 'FLEET_PROVISIONING') throw invalid('Pre-provisioning hooks are supported on FLEET_PROVISIONING templates only.');
      if (!hook.targetArn?.startsWith('arn:aws:lambda:')) throw invalid('preProvisioningHook.targetArn must be a Lambda function ARN.');
      if (hook.payloadVersion !== undefined && !/^[0-9-]{10,32}$/.test(hook.payloadVersion)) {
        throw invalid('preProvisioningHook.payloadVersion is not valid.');
      }
    }
    const templateArn = account.arn(`provisioningtemplate/${name}`);
    if (account.provisioningTemplates.has(name)) {
      throw new IotError('ResourceAlreadyExistsException', `Provisioning template ${name} already exists.`, {
        resourceId: name,
        resourceArn: templateArn,
      });
    }
    const now = this.now();
    account.provisioningTemplates.set(name, {
      templateName: name,
      templateArn,
      ...(input.description ? { description: input.description } : {}),
      templateBody: input.templateBody,
      enabled: input.enabled ?? false,
      provisioningRoleArn: input.provisioningRoleArn,
      ...(hook?.targetArn ? { preProvisioningHook: { targetArn: hook.targetArn, payloadVersion: hook.payloadVersion ?? '2020-04-01' } } : {}),
      type,
      creationDate: now,
      lastModifiedDate: now,
    });
    return { templateArn, templateName: name, defaultVersionId: 1 };
  }

  templateOf(account: AccountState, templateName: string): ProvisioningTemplate {
    const template = account.provisioningTemplates.get(templateName);
    if (!template) throw notFound(`The provisioning template ${templateName} does not exist.`);
    return template;
  }

  describeProvisioningTemplate(account: AccountState, templateName: string) {
    const t = this.templateOf(account, templateName);
    return { ...t, defaultVersionId: 1 };
  }

  listProvisioningTemplates(account: AccountState, input: { maxResults?: number; nextToken?: string }) {
    const all = [...account.provisioningTemplates.values()].map((t) => ({
      templateArn: t.templateArn,
      templateName: t.templateName,
      ...(t.description ? { description: t.description } : {}),
      creationDate: t.creationDate,
      lastModifiedDate: t.lastModifiedDate,
      enabled: t.enabled,
      type: t.type,
    }));
    const { items, next } = page(all, input.maxResults, input.nextToken);
    return { templates: items, ...(next ? { nextToken: next } : {}) };
  }

  updateProvisioningTemplate(
    account: AccountState,
    templateName: string,
    input: {
      description?: string;
      enabled?: boolean;
      provisioningRoleArn?: string;
      preProvisioningHook?: { targetArn?: string; payloadVersion?: string };
      removePreProvisioningHook?: boolean;
    },
  ) {
    const t = this.templateOf(account, templateName);
    if (input.description !== undefined) t.description = input.description;
    if (input.enabled !== undefined) t.enabled = input.enabled;
    if (input.provisioningRoleArn !== undefined) t.provisioningRoleArn = input.provisioningRoleArn;
    if (input.preProvisioningHook?.targetArn) {
      t.preProvisioningHook = { targetArn: input.preProvisioningHook.targetArn, payloadVersion: input.preProvisioningHook.payloadVersion ?? '2020-04-01' };
    }
    if (input.removePreProvisioningHook) delete t.preProvisioningHook;
    t.lastModifiedDate = this.now();
    return {};
  }

  deleteProvisioningTemplate(account: AccountState, templateName: string) {
    this.templateOf(account, templateName);
    account.provisioningTemplates.delete(templateName);
    return {};
  }

  /** Records a claim certificate issued for a template; it expires 5 minutes after issue (aws-iot-reference §3.4). */
  addProvisioningClaim(account: AccountState, certificate: X509Certificate, templateName: string): ProvisioningClaim {
    const claim = {
      certificateId: certificateIdOf(certificate),
      x509: certificate,
      templateName,
      expiration: new Date(this.now().getTime() + 5 * 60_000),
    };
    account.provisioningClaims.set(claim.certificateId, claim);
    this.revision++;
    return claim;
  }

  // ---- role aliases (aws-iot-reference §6) ----

  private validateRoleAlias(input: { roleArn?: string; credentialDurationSeconds?: number }, required: boolean): void {
    if (required || input.roleArn !== undefined) {
      if (!input.roleArn || input.roleArn.length < 20 || input.roleArn.length > 2048 || !input.roleArn.startsWith('arn:')) {
        throw invalid('roleArn must be an IAM role ARN of 20-2048 characters.');
      }
    }
    const duration = input.credentialDurationSeconds;
    if (duration !== undefined && (!Number.isInteger(duration) || duration < 900 || duration > 43_200)) {
      throw invalid('credentialDurationSeconds must be 900-43200.');
    }
  }

  createRoleAlias(account: AccountState, roleAlias: string, input: { roleArn?: string; credentialDurationSeconds?: number }) {
    if (!/^[\w=,@-]{1,128}$/.test(roleAlias)) throw invalid('roleAlias must be 1-128 characters of [\\w=,@-].');
    this.validateRoleAlias(input, true);
    const roleAliasArn = account.arn(`rolealias/${roleAlias}`);
    if (account.roleAliases.has(roleAlias)) {
      throw new IotError('ResourceAlreadyExistsException', `Role alias ${roleAlias} already exists.`, { resourceId: roleAlias, resourceArn: roleAliasArn });
    }
    const now = this.now();
    account.roleAliases.set(roleAlias, {
      roleAlias,
      roleAliasArn,
      roleArn: input.roleArn!,
      owner: account.accountId,
      credentialDurationSeconds: input.credentialDurationSeconds ?? 3600,
      creationDate: now,
      lastModifiedDate: now,
    });
    return { roleAlias, roleAliasArn };
  }

  roleAliasOf(account: AccountState, roleAlias: string): RoleAlias {
    const alias = account.roleAliases.get(roleAlias);
    if (!alias) throw notFound(`Role alias ${roleAlias} does not exist.`);
    return alias;
  }

  describeRoleAlias(account: AccountState, roleAlias: string) {
    return { roleAliasDescription: { ...this.roleAliasOf(account, roleAlias) } };
  }

  listRoleAliases(account: AccountState, input: { pageSize?: number; marker?: string }) {
    const { items, next } = page([...account.roleAliases.keys()], input.pageSize, input.marker);
    return { roleAliases: items, ...(next ? { nextMarker: next } : {}) };
  }

  updateRoleAlias(account: AccountState, roleAlias: string, input: { roleArn?: string; credentialDurationSeconds?: number }) {
    const alias = this.roleAliasOf(account, roleAlias);
    this.validateRoleAlias(input, false);
    if (input.roleArn) alias.roleArn = input.roleArn;
    if (input.credentialDurationSeconds !== undefined) alias.credentialDurationSeconds = input.credentialDurationSeconds;
    alias.lastModifiedDate = this.now();
    return { roleAlias, roleAliasArn: alias.roleAliasArn };
  }

  deleteRoleAlias(account: AccountState, roleAlias: string) {
    this.roleAliasOf(account, roleAlias);
    account.roleAliases.delete(roleAlias);
    return {};
  }

  // ---- endpoints ----

  describeEndpoint(account: AccountState, endpointType: string | undefined) {
    // Without endpointType AWS returns the legacy iot:Data endpoint (aws-iot-reference §4).
    const type = (endpointType ?? 'iot:Data') as EndpointType;
    if (!['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs'].includes(type)) {
      throw invalid(`Endpoint type ${endpointType} not recognized.`);
    }
    return { endpointAddress: this.endpointAddress(account, type) };
  }

  /** The account whose data endpoint the TLS SNI names, if any. */
  accountForServerName(serverName: string | undefined): AccountState | undefined {
    if (!serverName) return undefined;
    const name = serverName.toLowerCase();
    return this.allAccounts().find((account) =>
      (['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider'] as const).some((type) => this.endpointAddress(account, type).toLowerCase() === name),
    );
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
