import { CreateCertificateFromCsrCommand, CreateKeysAndCertificateCommand, CreateProvisioningClaimCommand, type IoTClient } from '@aws-sdk/client-iot';
import { createPublicKey } from 'node:crypto';
import type { IssuedCertificate, ProvisioningClaim } from '../../provisioning/iot-ports';

/** New certificates and claim certificates from AWS IoT (`CertificateIssuer`, `ClaimIssuer`): one function per call. */

export async function createKeysAndCertificate(client: IoTClient): Promise<IssuedCertificate & { privateKey: string; publicKey: string }> {
  const c = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
  if (!c.certificateId || !c.certificateArn || !c.certificatePem || !c.keyPair?.PrivateKey) {
    throw new Error('CreateKeysAndCertificate returned an incomplete answer');
  }
  const privateKey = c.keyPair.PrivateKey;
  return {
    certificateId: c.certificateId,
    certificateArn: c.certificateArn,
    certificatePem: c.certificatePem,
    privateKey,
    // AWS always returns both halves; should the public one be missing, it follows from the private one.
    publicKey: c.keyPair.PublicKey ?? createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export async function createCertificateFromCsr(client: IoTClient, csrPem: string): Promise<IssuedCertificate> {
  const c = await client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: false }));
  if (!c.certificateId || !c.certificateArn || !c.certificatePem) throw new Error('CreateCertificateFromCsr returned an incomplete answer');
  return { certificateId: c.certificateId, certificateArn: c.certificateArn, certificatePem: c.certificatePem };
}

export async function createProvisioningClaim(client: IoTClient, templateName: string): Promise<ProvisioningClaim> {
  const claim = await client.send(new CreateProvisioningClaimCommand({ templateName }));
  if (!claim.certificateId || !claim.certificatePem || !claim.keyPair?.PrivateKey || !claim.expiration) {
    throw new Error('CreateProvisioningClaim returned an incomplete claim');
  }
  return {
    certificateId: claim.certificateId,
    certificatePem: claim.certificatePem,
    privateKey: claim.keyPair.PrivateKey,
    expiration: claim.expiration,
  };
}
