import { randomBytes, type X509Certificate } from 'node:crypto';
import { IotError, invalid, notFound } from '../errors';
import { certificateIdOf, isIssuedBy, validityOf } from '../pem';
import { byCreation, page, parseCertificate, touch, versioned, type AccountScope, type Page, type Paging, type TrustRevision, type Versioned, type Writable } from './support';

/**
 * One account's CA and device certificates and its registration code (aws-iot-reference §1, §2, §4).
 * Where AWS documents nothing, the choice is marked "assumption" and listed in local/README.md.
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

export interface CaCertificate extends Versioned {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly x509: X509Certificate;
  readonly status: 'ACTIVE' | 'INACTIVE';
  readonly autoRegistrationStatus: 'ENABLE' | 'DISABLE';
  readonly certificateMode: CertificateMode;
  readonly ownedBy: string;
  readonly registrationConfig?: Readonly<Record<string, unknown>>;
}

export interface DeviceCertificate extends Versioned {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly x509: X509Certificate;
  readonly caCertificateId?: string;
  readonly status: CertificateStatus;
  readonly certificateMode: CertificateMode;
  readonly ownedBy: string;
}

/** What the certificates need to know of the other services: what is attached to a certificate. */
export interface CertificateAttachments {
  hasThings(certificateArn: string): boolean;
  hasPolicies(certificateArn: string): boolean;
  /** Detaches every thing and policy from the certificate. */
  forget(certificateArn: string): void;
}

export interface CertificateServiceOptions {
  scope: AccountScope;
  trust: TrustRevision;
  /** True when another account of the region registered this CA in DEFAULT mode. */
  registeredInDefaultModeElsewhere(caCertificateId: string): boolean;
  attachments: CertificateAttachments;
}

const MAX_CAS_PER_SUBJECT = 10;

function commonNameOf(certificate: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
}

export class CertificateService {
  private registrationCode: string | undefined;
  private readonly cas = new Map<string, Writable<CaCertificate>>();
  private readonly certificates = new Map<string, Writable<DeviceCertificate>>();
  private readonly scope: AccountScope;

  constructor(private readonly options: CertificateServiceOptions) {
    this.scope = options.scope;
  }

  // ---- registration code and CA certificates (aws-iot-reference §2) ----

  getRegistrationCode(): string {
    this.registrationCode ??= randomBytes(32).toString('hex');
    return this.registrationCode;
  }

  deleteRegistrationCode(): void {
    this.registrationCode = undefined;
  }

  registerCa(input: {
    caCertificate?: string | undefined;
    verificationCertificate?: string | undefined;
    setAsActive?: boolean | undefined;
    allowAutoRegistration?: boolean | undefined;
    registrationConfig?: Record<string, unknown> | undefined;
    certificateMode?: string | undefined;
  }): CaCertificate {
    const mode = input.certificateMode ?? 'DEFAULT';
    if (mode !== 'DEFAULT' && mode !== 'SNI_ONLY') throw invalid(`Invalid certificateMode: ${mode}`);
    const ca = parseCertificate(input.caCertificate, 'CA certificate');
    if (!ca.ca) throw new IotError('CertificateValidationException', 'The certificate is not a CA certificate.');
    const { notBefore, notAfter } = validityOf(ca);
    const now = this.scope.now();
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
      if (!this.registrationCode || commonNameOf(verification) !== this.registrationCode) {
        throw new IotError(
          'RegistrationCodeValidationException',
          'The verification certificate does not contain the registration code of this account in its Common Name.',
        );
      }
    }
    const certificateId = certificateIdOf(ca);
    const certificateArn = this.scope.arn(`cacert/${certificateId}`);
    if (this.cas.has(certificateId)) {
      throw new IotError('ResourceAlreadyExistsException', 'The CA certificate is already registered.', {
        resourceId: certificateId,
        resourceArn: certificateArn,
      });
    }
    // A DEFAULT-mode CA can be registered by one account per region (aws-iot-reference §2). The error for a
    // second account is not documented; ResourceAlreadyExistsException is an assumption.
    if (mode === 'DEFAULT' && this.options.registeredInDefaultModeElsewhere(certificateId)) {
      throw new IotError(
        'ResourceAlreadyExistsException',
        'The CA certificate is already registered in DEFAULT mode by another account; register it with certificateMode SNI_ONLY.',
        { resourceId: certificateId },
      );
    }
    const sameSubject = [...this.cas.values()].filter((c) => c.x509.subject === ca.subject);
    if (sameSubject.length >= MAX_CAS_PER_SUBJECT) {
      throw new IotError('LimitExceededException', 'At most 10 CA certificates with the same subject can be registered.');
    }
    this.options.trust.bump();
    const record: Writable<CaCertificate> = {
      certificateId,
      certificateArn,
      x509: ca,
      status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
      autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
      certificateMode: mode,
      ownedBy: this.scope.accountId,
      ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
      ...versioned(now),
    };
    this.cas.set(certificateId, record);
    return record;
  }

  private caOf(certificateId: string): Writable<CaCertificate> {
    const ca = this.cas.get(certificateId.toLowerCase());
    if (!ca) throw notFound(`The CA certificate ${certificateId} does not exist.`);
    return ca;
  }

  updateCa(
    certificateId: string,
    input: {
      newStatus?: string | undefined;
      newAutoRegistrationStatus?: string | undefined;
      registrationConfig?: Record<string, unknown> | undefined;
      removeAutoRegistration?: boolean | undefined;
    },
  ): void {
    const ca = this.caOf(certificateId);
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
    touch(ca, this.scope.now());
  }

  /** The CA certificate, or ResourceNotFoundException. */
  describeCa(certificateId: string): CaCertificate {
    return this.caOf(certificateId);
  }

  findCa(certificateId: string): CaCertificate | undefined {
    return this.cas.get(certificateId);
  }

  /**
   * ListCACertificates: 25 a page by default ("The results are paginated with a default page size of 25",
   * the model's documentation of the operation), newest first unless ascendingOrder; `templateName` keeps
   * the CAs whose registration config names that template.
   */
  listCas(paging: Paging, options: { ascending?: boolean; templateName?: string | undefined } = {}): Page<CaCertificate> {
    const cas = [...this.cas.values()].filter((ca) => !options.templateName || ca.registrationConfig?.templateName === options.templateName);
    return page(byCreation(cas, options.ascending === true), paging, { name: 'ListCACertificates', scope: `${options.ascending === true}/${options.templateName ?? ''}`, defaultSize: 25 });
  }

  deleteCa(certificateId: string): void {
    const ca = this.caOf(certificateId);
    if (ca.status === 'ACTIVE') {
      throw new IotError('CertificateStateException', 'A CA certificate must be INACTIVE before it is deleted.');
    }
    this.cas.delete(ca.certificateId);
    this.options.trust.bump();
  }

  /** The registered CA of this account that issued the certificate, if any. */
  issuingCa(certificate: X509Certificate): CaCertificate | undefined {
    return [...this.cas.values()].find((ca) => isIssuedBy(certificate, ca.x509));
  }

  /** True when this account registered the CA in DEFAULT mode. */
  hasDefaultModeCa(certificateId: string): boolean {
    return this.cas.get(certificateId)?.certificateMode === 'DEFAULT';
  }

  // ---- device certificates ----

  private add(
    x509: X509Certificate,
    fields: { status: CertificateStatus; certificateMode: CertificateMode; caCertificateId?: string },
  ): DeviceCertificate {
    const certificateId = certificateIdOf(x509);
    const certificateArn = this.scope.arn(`cert/${certificateId}`);
    if (this.certificates.has(certificateId)) {
      throw new IotError('ResourceAlreadyExistsException', 'The certificate is already registered.', {
        resourceId: certificateId,
        resourceArn: certificateArn,
      });
    }
    const record: Writable<DeviceCertificate> = {
      certificateId,
      certificateArn,
      x509,
      ownedBy: this.scope.accountId,
      ...fields,
      ...versioned(this.scope.now()),
    };
    this.certificates.set(certificateId, record);
    if (!record.caCertificateId) this.options.trust.bump();
    return record;
  }

  private initialStatus(input: { status?: string | undefined; setAsActive?: boolean | undefined }): CertificateStatus {
    if (input.status !== undefined) {
      if (!CERTIFICATE_STATUSES.includes(input.status as CertificateStatus)) throw invalid(`Invalid status: ${input.status}`);
      return input.status as CertificateStatus;
    }
    return input.setAsActive ? 'ACTIVE' : 'INACTIVE';
  }

  register(input: {
    certificatePem?: string | undefined;
    caCertificatePem?: string | undefined;
    setAsActive?: boolean | undefined;
    status?: string | undefined;
  }): DeviceCertificate {
    const certificate = parseCertificate(input.certificatePem, 'certificate');
    let ca: CaCertificate | undefined;
    if (input.caCertificatePem) {
      const caX509 = parseCertificate(input.caCertificatePem, 'CA certificate');
      ca = this.cas.get(certificateIdOf(caX509));
      if (!ca) throw new IotError('CertificateValidationException', 'The CA certificate is not registered in this account.');
      if (!isIssuedBy(certificate, ca.x509)) {
        throw new IotError('CertificateValidationException', 'The certificate is not signed by the given CA certificate.');
      }
    } else {
      ca = this.issuingCa(certificate);
      if (!ca) {
        throw new IotError('CertificateValidationException', 'The certificate is not signed by a CA registered in this account.');
      }
    }
    // Assumption: registering under an INACTIVE CA is refused as a state error.
    if (ca.status !== 'ACTIVE') throw new IotError('CertificateStateException', 'The CA certificate is not ACTIVE.');
    return this.add(certificate, {
      status: this.initialStatus(input),
      certificateMode: ca.certificateMode,
      caCertificateId: ca.certificateId,
    });
  }

  registerWithoutCa(input: { certificatePem?: string | undefined; status?: string | undefined }): DeviceCertificate {
    const certificate = parseCertificate(input.certificatePem, 'certificate');
    return this.add(certificate, { status: this.initialStatus(input), certificateMode: 'SNI_ONLY' });
  }

  /** A certificate AWS IoT issued itself (CreateKeysAndCertificate, CSR): no CA, DEFAULT mode. */
  addIssued(certificate: X509Certificate, status: CertificateStatus): DeviceCertificate {
    return this.add(certificate, { status, certificateMode: 'DEFAULT' });
  }

  /** JITR: a certificate first seen on connect, registered PENDING_ACTIVATION (aws-iot-reference §1.2). */
  autoRegister(certificate: X509Certificate, ca: CaCertificate): DeviceCertificate {
    return this.add(certificate, {
      status: 'PENDING_ACTIVATION',
      certificateMode: ca.certificateMode,
      caCertificateId: ca.certificateId,
    });
  }

  /** Removes a certificate whatever its state, with its attachments (the 1-hour ownership-token expiry of fleet provisioning). */
  purge(certificateId: string): void {
    const certificate = this.certificates.get(certificateId);
    if (!certificate) return;
    this.options.attachments.forget(certificate.certificateArn);
    this.certificates.delete(certificateId);
    if (!certificate.caCertificateId) this.options.trust.bump();
  }

  private certificateOf(certificateId: string): Writable<DeviceCertificate> {
    const certificate = this.certificates.get(certificateId.toLowerCase());
    if (!certificate) throw notFound(`The certificate ${certificateId} does not exist.`);
    return certificate;
  }

  /** The certificate, or ResourceNotFoundException. */
  describe(certificateId: string): DeviceCertificate {
    return this.certificateOf(certificateId);
  }

  /** The certificate with this id (64 lowercase hex), if registered. */
  find(certificateId: string): DeviceCertificate | undefined {
    return this.certificates.get(certificateId);
  }

  /** The certificate a principal ARN names, or ResourceNotFoundException (as AttachThingPrincipal answers). */
  byArn(arn: string | undefined): DeviceCertificate {
    if (!arn) throw invalid('A principal must be given.');
    const id = /:cert\/([a-fA-F0-9]{64})$/.exec(arn)?.[1];
    const certificate = id ? this.certificates.get(id.toLowerCase()) : undefined;
    if (!certificate || certificate.certificateArn !== arn) throw notFound(`Principal ${arn} cannot be found.`);
    return certificate;
  }

  /** Every device certificate, in registration order. */
  all(): DeviceCertificate[] {
    return [...this.certificates.values()];
  }

  /**
   * ListCertificates: 25 a page by default (the model's documentation of the operation), ordered by
   * creation date, newest first unless ascendingOrder ("If True, the results are returned in ascending
   * order, based on the creation date").
   */
  list(paging: Paging, ascending = false): Page<DeviceCertificate> {
    return page(byCreation(this.all(), ascending), paging, { name: 'ListCertificates', scope: String(ascending), defaultSize: 25 });
  }

  /**
   * ListCertificatesByCA: the device certificates the CA signed, paged and ordered as ListCertificates. The
   * operation documents no ResourceNotFoundException: an unknown CA lists nothing (an assumption).
   */
  listByCa(caCertificateId: string, paging: Paging, ascending = false): Page<DeviceCertificate> {
    const id = caCertificateId.toLowerCase();
    const signed = this.all().filter((c) => c.caCertificateId === id);
    return page(byCreation(signed, ascending), paging, { name: 'ListCertificatesByCA', scope: `${id}/${ascending}`, defaultSize: 25 });
  }

  updateStatus(certificateId: string, newStatus: string | undefined): void {
    const c = this.certificateOf(certificateId);
    if (!newStatus || !CERTIFICATE_STATUSES.includes(newStatus as CertificateStatus)) {
      throw invalid(`Invalid newStatus: ${newStatus ?? '(missing)'}`);
    }
    if (newStatus === c.status) return; // idempotent
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
    touch(c, this.scope.now());
  }

  delete(certificateId: string, forceDelete: boolean): void {
    const c = this.certificateOf(certificateId);
    if (c.status === 'ACTIVE') {
      throw new IotError('CertificateStateException', 'The certificate is ACTIVE; deactivate it before deleting it.');
    }
    const { attachments } = this.options;
    if (attachments.hasThings(c.certificateArn)) {
      throw new IotError('DeleteConflictException', 'Things are attached to the certificate; detach them first.');
    }
    if (attachments.hasPolicies(c.certificateArn) && !forceDelete) {
      throw new IotError('DeleteConflictException', 'Policies are attached to the certificate; detach them or use forceDelete.');
    }
    attachments.forget(c.certificateArn);
    this.certificates.delete(c.certificateId);
    if (!c.caCertificateId) this.options.trust.bump();
  }

  // ---- TLS trust ----

  /**
   * The PEMs a client certificate of this account may chain to: its CAs and the certificates registered
   * without a CA (their own trust anchor). Without SNI only DEFAULT-mode ones can be routed to an account.
   */
  trustAnchors(withSni: boolean): string[] {
    const pems: string[] = [];
    for (const ca of this.cas.values()) if (withSni || ca.certificateMode === 'DEFAULT') pems.push(ca.x509.toString());
    for (const c of this.certificates.values()) {
      if (!c.caCertificateId && (withSni || c.certificateMode === 'DEFAULT')) pems.push(c.x509.toString());
    }
    return pems;
  }
}
