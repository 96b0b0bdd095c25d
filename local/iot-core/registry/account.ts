import { createHash } from 'node:crypto';
import { invalid } from '../errors';
import { CertificateService } from './certificates';
import { PolicyService } from './policies';
import { ProvisioningService } from './provisioning';
import { RoleAliasService } from './role-aliases';
import type { AccountScope, TrustRevision } from './support';
import { ThingService } from './things';

/**
 * One account of the local IoT Core: its services, each holding that account's state of one resource,
 * wired to each other through the narrow ports they declare (a certificate cannot be deleted while things
 * or policies are attached; AttachThingPrincipal and AttachPolicy name existing principals).
 */

export type EndpointType = 'iot:Data' | 'iot:Data-ATS' | 'iot:CredentialProvider' | 'iot:Jobs';
const ENDPOINT_TYPES: readonly string[] = ['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs'];

export interface IotAccountOptions {
  accountId: string;
  region: string;
  now: () => Date;
  trust: TrustRevision;
  endpointAddress: (account: IotAccount, type: EndpointType) => string;
  /** True when another account of the region registered the CA in DEFAULT mode. */
  registeredInDefaultModeElsewhere: (account: IotAccount, caCertificateId: string) => boolean;
}

export class IotAccount implements AccountScope {
  readonly accountId: string;
  readonly region: string;
  /** Stable per account and region, as AWS's endpoint prefix is (aws-iot-reference §4 DescribeEndpoint). */
  readonly endpointPrefix: string;
  readonly certificates: CertificateService;
  readonly things: ThingService;
  readonly policies: PolicyService;
  readonly provisioning: ProvisioningService;
  readonly roleAliases: RoleAliasService;

  constructor(private readonly options: IotAccountOptions) {
    this.accountId = options.accountId;
    this.region = options.region;
    this.endpointPrefix = `a${createHash('sha256').update(`${this.accountId}/${this.region}`).digest('hex').slice(0, 13)}`;
    this.certificates = new CertificateService({
      scope: this,
      trust: options.trust,
      registeredInDefaultModeElsewhere: (caCertificateId) => options.registeredInDefaultModeElsewhere(this, caCertificateId),
      attachments: {
        hasThings: (arn) => this.things.thingsOf(arn).length > 0,
        hasPolicies: (arn) => this.policies.hasAttached(arn),
        forget: (arn) => {
          this.policies.detachAll(arn);
          this.things.detachEverywhere(arn);
        },
      },
    });
    this.things = new ThingService(this, { principalArn: (arn) => this.certificates.byArn(arn).certificateArn });
    this.policies = new PolicyService(this, {
      verify: (target) => {
        if (target.includes(':cert/')) this.certificates.byArn(target);
        else if (target.includes(':thinggroup/')) this.things.describeGroup(target.split('thinggroup/')[1] ?? '');
      },
    });
    this.provisioning = new ProvisioningService(this, options.trust);
    this.roleAliases = new RoleAliasService(this);
  }

  now(): Date {
    return this.options.now();
  }

  arn(resource: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:${resource}`;
  }

  /** DescribeEndpoint: without endpointType AWS returns the legacy iot:Data endpoint (aws-iot-reference §4). */
  endpoint(endpointType: string | undefined): string {
    const type = (endpointType ?? 'iot:Data') as EndpointType;
    if (!ENDPOINT_TYPES.includes(type)) throw invalid(`Endpoint type ${endpointType} not recognized.`);
    return this.options.endpointAddress(this, type);
  }
}
