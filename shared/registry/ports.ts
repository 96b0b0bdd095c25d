import type { BoundCertificateFacts } from '../certificates/certificate-facts';
import type { DeviceAttributes, DeviceEntry, RejectionReason } from './device-entry';

/** The device registry as provisioning and the operator use it; `shared/aws/device-registry.ts` implements it. */

export interface DeviceRejection {
  reason: RejectionReason;
  certificateId: string;
  at: Date;
}

export type ClaimResult = { claimed: true } | { claimed: false; current: DeviceEntry | undefined };

export interface ProvisioningRecord {
  at: Date;
  outcome: 'allowed' | 'denied';
  reason?: string;
  templateName: string;
  claimCertificateId: string;
  certificateId: string;
  clientId: string;
}

/** What provisioning needs from the device registry. */
export interface DeviceRegistry {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  /**
   * Claims the device for a certificate before provisioning starts, so two certificates cannot both
   * become its identity. Succeeds when the device is unbound (`previousCertificateId` absent) or still
   * bound to `previousCertificateId`, and when it is already claimed by this certificate.
   */
  claim(deviceId: string, certificateId: string, options: { previousCertificateId?: string; at: Date; certificate?: BoundCertificateFacts }): Promise<ClaimResult>;
  /** Records that the certificate is ACTIVE and attached to the thing, with its validity and issuer when known. */
  markBound(deviceId: string, certificateId: string, thingName: string, at: Date, certificate?: BoundCertificateFacts): Promise<void>;
  recordRejection(deviceId: string, rejection: DeviceRejection): Promise<void>;
  /** Records the pre-provisioning hook's last decision on the device's entry. */
  recordProvisioning(deviceId: string, record: ProvisioningRecord): Promise<void>;
  /** Removes the device's binding to `certificateId` (revocation); false when it was bound to another. */
  unbind(deviceId: string, certificateId: string, at: Date): Promise<boolean>;
}

/** What the operator CLI does with the registry. */
export interface DeviceRegistryAdmin {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
  allow(
    deviceId: string,
    options: { thingGroup?: string; thingType?: string; attributes?: DeviceAttributes; reprovision?: boolean },
    at: Date,
  ): Promise<DeviceEntry>;
  block(deviceId: string, at: Date): Promise<DeviceEntry>;
}
