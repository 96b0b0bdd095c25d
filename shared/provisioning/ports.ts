/**
 * Compatibility only, types only (no code, so no bundle is affected): the ports now live by concern, beside
 * their users — `../registry/ports.ts`, `./iot-ports.ts`, `./ledger-ports.ts`, `./retirement-port.ts`,
 * `./certificate-store-port.ts`, `../log.ts`. Two files being changed on other branches still import from
 * here (`shared/provisioning/certificate-resource.ts`, `local/sandbox-vending.ts`); once they import the
 * ports they use, delete this file. Import nothing new from it.
 */
export type { CertificateMaterial, CertificateStore, StoredObject } from './certificate-store-port';
export type { IotDirectory } from './iot-ports';
export type { Log } from '../log';
export type { DeviceRegistryAdmin } from '../registry/ports';
