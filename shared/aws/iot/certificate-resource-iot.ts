import type { IoTClient } from '@aws-sdk/client-iot';
import type { CertificateRecord, IotDirectory, IssuedCertificate, SettableCertificateStatus } from '../../provisioning/iot-ports';
import { deleteCertificate, describeCertificate, updateCertificateStatus } from './certificates';
import { describeEndpoint } from './endpoints';
import { createKeysAndCertificate } from './issuance';
import { detachPolicy, listAttachedPolicies } from './policies';
import { detachThingPrincipal, listPrincipalThings } from './things';

type CertificateResourceCalls = Pick<
  IotDirectory,
  | 'createKeysAndCertificate'
  | 'describeCertificate'
  | 'updateCertificateStatus'
  | 'listPrincipalThings'
  | 'detachThingPrincipal'
  | 'listAttachedPolicies'
  | 'detachPolicy'
  | 'deleteCertificate'
  | 'describeEndpoint'
>;

/**
 * The IoT calls of the certificate custom resource (`Custom::DeviceCertificate`), and only those, so that its
 * bundle carries their nine commands rather than all of AwsIotDirectory's. Constructed like AwsIotDirectory,
 * so its handler switches with one import: `import { CertificateResourceIot as AwsIotDirectory } from …`.
 */
export class CertificateResourceIot implements CertificateResourceCalls {
  constructor(private readonly client: IoTClient) {}

  createKeysAndCertificate(): Promise<IssuedCertificate & { privateKey: string; publicKey: string }> {
    return createKeysAndCertificate(this.client);
  }
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined> {
    return describeCertificate(this.client, certificateId);
  }
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void> {
    return updateCertificateStatus(this.client, certificateId, status);
  }
  listPrincipalThings(certificateArn: string): Promise<string[]> {
    return listPrincipalThings(this.client, certificateArn);
  }
  detachThingPrincipal(thingName: string, certificateArn: string): Promise<void> {
    return detachThingPrincipal(this.client, thingName, certificateArn);
  }
  listAttachedPolicies(certificateArn: string): Promise<string[]> {
    return listAttachedPolicies(this.client, certificateArn);
  }
  detachPolicy(policyName: string, certificateArn: string): Promise<void> {
    return detachPolicy(this.client, policyName, certificateArn);
  }
  deleteCertificate(certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'> {
    return deleteCertificate(this.client, certificateId);
  }
  describeEndpoint(type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
    return describeEndpoint(this.client, type);
  }
}
