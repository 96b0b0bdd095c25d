import { DeleteCertificateCommand, DescribeCACertificateCommand, DescribeCertificateCommand, UpdateCertificateCommand, type IoTClient } from '@aws-sdk/client-iot';
import type { CaFacts } from '../../admission/admit';
import type { CertificateRecord, SettableCertificateStatus } from '../../provisioning/iot-ports';
import { isNamed } from '../errors';

/** AWS IoT certificates and CA certificates (`CertificateDirectory`, `CaDirectory`): one function per call. */

export async function describeCertificate(client: IoTClient, certificateId: string): Promise<CertificateRecord | undefined> {
  try {
    const { certificateDescription: d } = await client.send(new DescribeCertificateCommand({ certificateId }));
    if (!d?.certificateArn || !d.certificateId || !d.status || !d.certificatePem) {
      throw new Error(`DescribeCertificate returned an incomplete description for ${certificateId}`);
    }
    return {
      certificateId: d.certificateId,
      certificateArn: d.certificateArn,
      caCertificateId: d.caCertificateId,
      status: d.status,
      certificatePem: d.certificatePem,
    };
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}

export async function updateCertificateStatus(client: IoTClient, certificateId: string, status: SettableCertificateStatus): Promise<void> {
  await client.send(new UpdateCertificateCommand({ certificateId, newStatus: status }));
}

export async function deleteCertificate(client: IoTClient, certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'> {
  try {
    // forceDelete: policies attached meanwhile go with the certificate; things never do (aws-iot-reference §4).
    await client.send(new DeleteCertificateCommand({ certificateId, forceDelete: true }));
    return 'deleted';
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return 'not-found';
    if (isNamed(error, 'DeleteConflictException')) return 'things-attached';
    throw error;
  }
}

export async function describeCaCertificate(client: IoTClient, caCertificateId: string): Promise<CaFacts | undefined> {
  try {
    const { certificateDescription: d } = await client.send(new DescribeCACertificateCommand({ certificateId: caCertificateId }));
    return { status: d?.status, autoRegistrationStatus: d?.autoRegistrationStatus };
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}
