import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createCa, issueCertificate } from './pki';
import { PROJECT_ROOT } from './stack';

/**
 * Writes the public certificates behind events/certificate-registered.json: a demo CA and one device
 * certificate (10 years), so `serverless invoke local` has a real pending certificate to act on when
 * `npm run emulator` runs. Only certificates are written — the private keys are discarded.
 * Run once: npx tsx local/make-demo-fixtures.ts
 */
async function main() {
  const YEAR = 365 * 24 * 60 * 60 * 1000;
  const ca = await createCa({ commonName: 'iot-provisioner demo CA', notAfter: new Date(Date.now() + 10 * YEAR) });
  const device = await issueCertificate(ca, {
    subject: { commonName: 'Demo device', serialNumber: 'DEMO-0001' },
    notAfter: new Date(Date.now() + 10 * YEAR),
  });
  const dir = resolve(PROJECT_ROOT, 'events/fixtures');
  writeFileSync(resolve(dir, 'demo-ca.pem'), ca.certificatePem + '\n');
  writeFileSync(resolve(dir, 'demo-device.pem'), device.certificatePem + '\n');
  const event = {
    certificateId: device.certificateId,
    caCertificateId: ca.certificateId,
    timestamp: 1795363200000,
    certificateStatus: 'PENDING_ACTIVATION',
    awsAccountId: '123456789012',
    certificateRegistrationTimestamp: '1795363199000',
  };
  writeFileSync(resolve(PROJECT_ROOT, 'events/certificate-registered.json'), JSON.stringify(event, null, 2) + '\n');
  console.log('wrote events/fixtures/demo-ca.pem, events/fixtures/demo-device.pem, events/certificate-registered.json');
}
void main();
