import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateProvisioningClaimCommand,
  DeleteCertificateCommand,
  DetachPolicyCommand,
  CreateThingCommand,
  DescribeEndpointCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { createPublicKey } from 'node:crypto';
import type { CaFacts } from '../admission/admit';
import type { CertificateRecord, IotDirectory, IssuedCertificate, ProvisioningClaim, SettableCertificateStatus, ThingSpec } from '../provisioning/iot-ports';

const isNamed = (error: unknown, name: string) => error instanceof Error && error.name === name;

/** The only code that builds AWS IoT commands for provisioning workflows. */
export class AwsIotDirectory implements IotDirectory {
  constructor(private readonly client: IoTClient) {}

  async describeCertificate(certificateId: string): Promise<CertificateRecord | undefined> {
    try {
      const { certificateDescription: d } = await this.client.send(new DescribeCertificateCommand({ certificateId }));
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

  async describeCaCertificate(caCertificateId: string): Promise<CaFacts | undefined> {
    try {
      const { certificateDescription: d } = await this.client.send(
        new DescribeCACertificateCommand({ certificateId: caCertificateId }),
      );
      return { status: d?.status, autoRegistrationStatus: d?.autoRegistrationStatus };
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  }

  async createThing(thing: ThingSpec): Promise<'created' | 'exists'> {
    try {
      await this.client.send(
        new CreateThingCommand({
          thingName: thing.thingName,
          thingTypeName: thing.thingTypeName,
          attributePayload: { attributes: thing.attributes },
        }),
      );
      return 'created';
    } catch (error) {
      // Same name with a different configuration (aws-iot-reference §4): the thing is there; keep it.
      if (isNamed(error, 'ResourceAlreadyExistsException')) return 'exists';
      throw error;
    }
  }

  async addThingToThingGroup(thingName: string, thingGroupName: string): Promise<void> {
    await this.client.send(new AddThingToThingGroupCommand({ thingName, thingGroupName }));
  }

  async attachPolicy(policyName: string, certificateArn: string): Promise<void> {
    await this.client.send(new AttachPolicyCommand({ policyName, target: certificateArn }));
  }

  async attachThingPrincipal(thingName: string, certificateArn: string): Promise<void> {
    await this.client.send(
      new AttachThingPrincipalCommand({ thingName, principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' }),
    );
  }

  async detachThingPrincipal(thingName: string, certificateArn: string): Promise<void> {
    await this.client.send(new DetachThingPrincipalCommand({ thingName, principal: certificateArn }));
  }

  async updateCertificateStatus(certificateId: string, status: SettableCertificateStatus): Promise<void> {
    await this.client.send(new UpdateCertificateCommand({ certificateId, newStatus: status }));
  }

  async listPrincipalThings(certificateArn: string): Promise<string[]> {
    const things: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new ListPrincipalThingsCommand({ principal: certificateArn, nextToken }));
      things.push(...(page.things ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return things;
  }

  async listAttachedPolicies(certificateArn: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(new ListAttachedPoliciesCommand({ target: certificateArn, marker }));
      names.push(...(page.policies ?? []).flatMap((p) => (p.policyName ? [p.policyName] : [])));
      marker = page.nextMarker;
    } while (marker);
    return names;
  }

  async createProvisioningClaim(templateName: string): Promise<ProvisioningClaim> {
    const claim = await this.client.send(new CreateProvisioningClaimCommand({ templateName }));
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

  async describeEndpoint(endpointType: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
    const { endpointAddress } = await this.client.send(new DescribeEndpointCommand({ endpointType }));
    if (!endpointAddress) throw new Error('DescribeEndpoint returned no address');
    return endpointAddress;
  }

  async createKeysAndCertificate(): Promise<IssuedCertificate & { privateKey: string; publicKey: string }> {
    const c = await this.client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
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

  async createCertificateFromCsr(csrPem: string): Promise<IssuedCertificate> {
    const c = await this.client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: false }));
    if (!c.certificateId || !c.certificateArn || !c.certificatePem) throw new Error('CreateCertificateFromCsr returned an incomplete answer');
    return { certificateId: c.certificateId, certificateArn: c.certificateArn, certificatePem: c.certificatePem };
  }

  async detachPolicy(policyName: string, certificateArn: string): Promise<void> {
    await this.client.send(new DetachPolicyCommand({ policyName, target: certificateArn }));
  }

  async deleteCertificate(certificateId: string): Promise<'deleted' | 'not-found' | 'things-attached'> {
    try {
      // forceDelete: policies attached meanwhile go with the certificate; things never do (aws-iot-reference §4).
      await this.client.send(new DeleteCertificateCommand({ certificateId, forceDelete: true }));
      return 'deleted';
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return 'not-found';
      if (isNamed(error, 'DeleteConflictException')) return 'things-attached';
      throw error;
    }
  }
}
