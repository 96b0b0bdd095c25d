import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createDocumentClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { splitPemChain } from './iot-core/pem';
import type { LocalIotCore } from './local-iot-core';
import { PROJECT_ROOT } from '../lib/stack';

/**
 * The certificate behind events/certificate-registered.json: its demo CA registered (SNI_ONLY, ACTIVE,
 * auto-registration), the device certificate registered PENDING_ACTIVATION as if DEMO-0001 had just made
 * its first connect, and the devices of the sample events allow-listed. `serverless invoke local` with that event then has a real
 * certificate to activate. Needs the SDK environment of the core (AWS_ENDPOINT_URL_DYNAMODB…) in process.env.
 */
export async function seedDemoCertificate(core: LocalIotCore, tableName: string): Promise<string> {
  const account = core.defaultAccount;
  const read = (file: string) => splitPemChain(readFileSync(resolve(PROJECT_ROOT, 'events/fixtures', file), 'utf8'))[0]!;
  const ca = account.certificates.registerCa({
    caCertificate: read('demo-ca.pem').toString(),
    certificateMode: 'SNI_ONLY',
    setAsActive: true,
    allowAutoRegistration: true,
  });
  const record = account.certificates.autoRegister(read('demo-device.pem'), ca);
  const registry = new DynamoDeviceRegistry(createDocumentClient(), tableName);
  await registry.allow('DEMO-0001', {}, new Date());
  // events/pre-provisioning-hook.json asks for FLEET-0001; events/vend-certificate*.json for DEMO-VEND-000x.
  for (const deviceId of ['FLEET-0001', 'DEMO-VEND-0001', 'DEMO-VEND-0002']) await registry.allow(deviceId, {}, new Date());
  return record.certificateId;
}
