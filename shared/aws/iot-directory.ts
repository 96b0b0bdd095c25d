import type { IoTClient } from '@aws-sdk/client-iot';
import type { CaFacts } from '../admission/admit';
import type { CertificateRecord, IotDirectory, IssuedCertificate, ProvisioningClaim, SettableCertificateStatus, ThingSpec } from '../provisioning/iot-ports';
import { deleteCertificate, describeCaCertificate, describeCertificate, updateCertificateStatus } from './iot/certificates';
import { describeEndpoint } from './iot/endpoints';
import { createCertificateFromCsr, createKeysAndCertificate, createProvisioningClaim } from './iot/issuance';
import { attachPolicy, detachPolicy, listAttachedPolicies } from './iot/policies';
import { addThingToThingGroup, attachThingPrincipal, createThing, detachThingPrincipal, listPrincipalThings } from './iot/things';

/**
 * Every IoT call of the workflows behind one object, for tests and tools that want them all. Lambda handlers
 * do not use it: a class brings every command into the bundle; they build their port from the calls they
 * make (`./iot/calls.ts`). The calls themselves are in `./iot/` (one module per port).
 */
export class AwsIotDirectory implements IotDirectory {
  constructor(private readonly client: IoTClient) {}

  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined> {
    return describeCertificate(this.client, certificateId);
  }
  describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined> {
    return describeCaCertificate(this.client, caCertificateId);
  }
  createThing(thing: ThingSpec): Promise<'created' | 'exists'> {
    return createThing(this.client, thing);
  }
  addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void> {
    return addThingToThingGroup(this.client, thingName, thingGroupName);
  }
  attachPolicy(policyName: string, certificateArn: string): Promise<void> {
    return attachPolicy(this.client, policyName, certificateArn);
  }
  attachThingPrincipal(thingName: string, certificateArn: string): Promise<void> {
    return attachThingPrincipal(this.client, thingName, certificateArn);
  }
  detachThingPrincipal(thingName: string, certificateArn: string): Promise<void> {
    return detachThingPrincipal(this.client, thingName, certificateArn);
  }
  updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void> {
    return updateCertificateStatus(this.client, certificateId, status);
  }
  listPrincipalThings(certificateArn: string): Promise<string[]> {
    return listPrincipalThings(this.client, certificateArn);
  }
  listAttachedPolicies(certificateArn: string): Promise<string[]> {
    return listAttachedPolicies(this.client, certificateArn);
  }
  createProvisioningClaim(templateName: string): Promise<ProvisioningClaim> {
    return createProvisioningClaim(this.client, templateName);
  }
  describeEndpoint(type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
    return describeEndpoint(this.client, type);
  }
  createKeysAndCertificate(): Promise<IssuedCertificate & { privateKey: string; publicKey: string }> {
    return createKeysAndCertificate(this.client);
  }
  createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate> {
    return createCertificateFromCsr(this.client, csrPem);
  }
  detachPolicy(policyName: string, certificateArn: string): Promise<void> {
    return detachPolicy(this.client, policyName, certificateArn);
  }
  deleteCertificate(certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'> {
    return deleteCertificate(this.client, certificateId);
  }
}
