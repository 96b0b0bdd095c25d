import type { DeviceEntry } from '../registry/device-entry';
import type { CaFacts } from './admit';

/**
 * What admission reads, and nothing more: the device's registry entry, a certificate's status, a CA's state.
 * The registry and IoT adapters satisfy these (their wider ports include them).
 */

export interface RegistryReader {
  get(deviceId: string): Promise<DeviceEntry | undefined>;
}

export interface CertificateReader {
  /** `undefined` when the certificate does not exist. */
  describeCertificate(certificateId: string): Promise<{ status: string } | undefined>;
}

export interface CaReader {
  /** `undefined` when the CA is not registered in this account. */
  describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined>;
}
