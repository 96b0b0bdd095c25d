import type { CaFacts } from '../admission/admit';

/**
 * AWS IoT as the provisioning workflows see it, one port per concern; `shared/aws/iot/` implements each in
 * its own module, so that a function's bundle carries only the commands of the calls it makes.
 */

export interface CertificateRecord {
  certificateId: string;
  certificateArn: string;
  caCertificateId: string | undefined;
  status: string;
  certificatePem: string;
}

export type SettableCertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED';

/** Certificates in the registry: read, set their status, delete. */
export interface CertificateDirectory {
  /** `undefined` when the certificate does not exist. */
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void>;
  /**
   * Deletes a certificate that is not ACTIVE; policies still attached go with it (`forceDelete`).
   * `'not-found'`: it was gone already. `'things-attached'`: a thing is still attached — detaching is
   * asynchronous in AWS IoT (aws-iot-reference §4), so a caller that just detached it tries again shortly.
   */
  deleteCertificate(certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'>;
}

/** CA certificates registered in the account. */
export interface CaDirectory {
  /** `undefined` when the CA is not registered in this account. */
  describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined>;
}

export interface ThingSpec {
  thingName: string;
  thingTypeName?: string;
  attributes: Record<string, string>;
}

/** Things, their groups, and which certificates are attached to them. */
export interface ThingDirectory {
  /** Creates the thing; an existing thing of that name (even with other attributes) counts as done. */
  createThing(thing: ThingSpec): Promise<'created' | 'exists'>;
  addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void>;
  /** Attaches exclusively: the certificate may belong to this thing only. */
  attachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  detachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
  listPrincipalThings(certificateArn: string): Promise<string[]>;
}

/** Policies attached to certificates. */
export interface PolicyDirectory {
  attachPolicy(policyName: string, certificateArn: string): Promise<void>;
  detachPolicy(policyName: string, certificateArn: string): Promise<void>;
  listAttachedPolicies(certificateArn: string): Promise<string[]>;
}

export interface IssuedCertificate {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
}

/** New certificates from AWS IoT's CA. */
export interface CertificateIssuer {
  /** A new key pair and certificate (INACTIVE); the private key is returned this once. */
  createKeysAndCertificate(): Promise<IssuedCertificate & { privateKey: string; publicKey: string }>;
  /** A certificate (INACTIVE) for the key of a CSR; the private key stays with the device. */
  createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate>;
}

export interface ProvisioningClaim {
  certificateId: string;
  certificatePem: string;
  privateKey: string;
  expiration: Date;
}

/** Temporary claim certificates for a provisioning template (trusted-user provisioning). */
export interface ClaimIssuer {
  createProvisioningClaim(templateName: string): Promise<ProvisioningClaim>;
}

/** The account's endpoints. */
export interface EndpointDirectory {
  /** An endpoint address of the account (`iot:Data-ATS`, `iot:CredentialProvider`). */
  describeEndpoint(type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string>;
}

/** Every IoT call the workflows make; each workflow asks for the part it uses. */
export type IotDirectory = CertificateDirectory & CaDirectory & ThingDirectory & PolicyDirectory & CertificateIssuer & ClaimIssuer & EndpointDirectory;
