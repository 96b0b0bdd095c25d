import { createHash } from 'node:crypto';
import { IotError, invalid, notFound } from '../errors';
import type { TopicRuleRecord } from '../rules';
import { CertificateService } from './certificates';
import { EventConfigurationService } from './event-configurations';
import { JobsService } from './jobs';
import { PolicyService } from './policies';
import { ProvisioningService } from './provisioning';
import { RoleAliasService } from './role-aliases';
import { page, type AccountScope, type Page, type Paging, type TrustRevision } from './support';
import { TagService } from './tags';
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
  /** The topic rules deployed into the account (the rules engine holds them). */
  topicRules?: (accountId: string) => readonly TopicRuleRecord[];
  /** EnableTopicRule / DisableTopicRule in the account's rules engine: false when there is no such rule. */
  setTopicRuleDisabled?: (accountId: string, ruleName: string, disabled: boolean) => boolean;
  /** Publishes a `$aws/events/…` message in the account (to its allowed subscribers and its rules). */
  publishEvent?: (account: IotAccount, topic: string, payload: Buffer) => void;
}

/** A Cognito identity id, "region:id" (the model's documentation of ListPrincipalPolicies' principal). */
const COGNITO_IDENTITY_ID = /^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}$/;

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
  readonly tags: TagService;
  readonly jobs: JobsService;
  readonly eventConfigurations: EventConfigurationService;

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
    this.things = new ThingService(this, {
      principalArn: (arn) => this.certificates.byArn(arn).certificateArn,
      groupDeleted: (arn) => {
        this.policies.detachAll(arn);
        this.tags.forget(arn);
      },
    });
    this.policies = new PolicyService(this, {
      verify: (target) => this.verifyPolicyTarget(target),
      ancestors: (target) => {
        const name = this.thingGroupNameOf(target);
        return name ? this.things.ancestorsOf(name).map((g) => g.thingGroupArn) : [];
      },
      groupsOfConnection: (certificateArn, thingName) => {
        if (!this.things.thingsOf(certificateArn).some((a) => a.thingName === thingName)) return [];
        return this.things.groupsOf(thingName).flatMap(({ groupName }) => [
          this.arn(`thinggroup/${groupName}`),
          ...this.things.ancestorsOf(groupName).map((g) => g.thingGroupArn),
        ]);
      },
    });
    this.provisioning = new ProvisioningService(this, options.trust);
    this.roleAliases = new RoleAliasService(this);
    this.eventConfigurations = new EventConfigurationService(() => options.now());
    this.jobs = new JobsService(this, {
      publishEvent: (type, topic, payload) => {
        if (this.eventConfigurations.isEnabled(type)) options.publishEvent?.(this, topic, Buffer.from(JSON.stringify(payload)));
      },
      thingArnOf: (thingName) => this.things.find(thingName)?.thingArn,
      thingsOfGroup: (groupName) => {
        const names: string[] = [];
        let marker: string | undefined;
        do {
          const { items, next } = this.things.thingsIn(groupName, { recursive: true, size: 250, marker });
          names.push(...items);
          marker = next;
        } while (marker);
        return names;
      },
    });
    this.tags = new TagService({
      arnPrefix: this.arn(''),
      exists: (type, id) => {
        switch (type) {
          case 'thinggroup':
            return this.things.findGroup(id) !== undefined;
          case 'thingtype':
            return this.things.findType(id) !== undefined;
          case 'policy':
            return this.policies.has(id);
          case 'rolealias':
            return this.roleAliases.find(id) !== undefined;
          case 'provisioningtemplate':
            return this.provisioning.findTemplate(id) !== undefined;
          case 'cacert':
            return this.certificates.findCa(id.toLowerCase()) !== undefined;
          case 'rule':
            return this.findTopicRule(id) !== undefined;
          case 'job':
            return this.jobs.jobOf(id) !== undefined;
          case 'jobtemplate':
            return this.jobs.findTemplate(id) !== undefined;
        }
      },
    });
  }

  private thingGroupNameOf(target: string): string | undefined {
    const prefix = this.arn('thinggroup/');
    return target.startsWith(prefix) ? target.slice(prefix.length) : undefined;
  }

  /**
   * An AttachPolicy target is a certificate ARN, a thing-group ARN or a Cognito identity id ("Valid
   * principals are CertificateArn, thingGroupArn and CognitoId (region:id)", the model's documentation of
   * ListPrincipalPolicies). A certificate or group of this account that does not exist is a
   * ResourceNotFoundException; anything else an InvalidRequestException.
   */
  private verifyPolicyTarget(target: string): void {
    if (/^arn:aws:iot:[^:]+:\d{12}:cert\/[0-9a-fA-F]{64}$/.test(target)) {
      this.certificates.byArn(target);
      return;
    }
    const groupName = this.thingGroupNameOf(target);
    if (groupName !== undefined) {
      this.things.describeGroup(groupName);
      return;
    }
    if (/^arn:aws:iot:[^:]+:\d{12}:thinggroup\/./.test(target)) throw notFound(`Thing group ${target} cannot be found.`);
    if (COGNITO_IDENTITY_ID.test(target)) return;
    throw invalid(`${target} is not a certificate ARN, a thing group ARN or a Cognito identity id.`);
  }

  private findTopicRule(ruleName: string): TopicRuleRecord | undefined {
    return (this.options.topicRules?.(this.accountId) ?? []).find((r) => r.ruleName === ruleName);
  }

  /**
   * GetTopicRule. A rule that does not exist answers UnauthorizedException ("Access to topic rule 'x' was
   * denied"), as AWS does: the operation documents no ResourceNotFoundException, and
   * hashicorp/terraform-provider-aws (internal/service/iot/topic_rule.go, findTopicRuleByName) records
   * that answer for a missing rule.
   */
  topicRule(ruleName: string): TopicRuleRecord {
    const rule = this.findTopicRule(ruleName);
    if (!rule) throw new IotError('UnauthorizedException', `Access to topic rule '${ruleName}' was denied.`);
    return rule;
  }

  /**
   * EnableTopicRule / DisableTopicRule: a disabled rule acts on no message while it is disabled (its messages are
   * not kept for later). A rule that does not exist answers as GetTopicRule does (an assumption: the operations
   * document no ResourceNotFoundException either).
   */
  setTopicRuleDisabled(ruleName: string, disabled: boolean): void {
    this.topicRule(ruleName);
    this.options.setTopicRuleDisabled?.(this.accountId, ruleName, disabled);
  }

  /**
   * ListTopicRules, by name (an assumption); `topic` keeps the rules whose FROM topic filter is that topic
   * (an assumption: "Lists the rules for the specific topic"), `ruleDisabled` the rules in that state.
   */
  listTopicRules(paging: Paging, filter: { topic?: string | undefined; ruleDisabled?: boolean | undefined } = {}): Page<TopicRuleRecord> {
    const rules = [...(this.options.topicRules?.(this.accountId) ?? [])]
      .filter((r) => (filter.topic === undefined || r.topicPattern === filter.topic) && (filter.ruleDisabled === undefined || r.ruleDisabled === filter.ruleDisabled))
      .sort((a, b) => (a.ruleName < b.ruleName ? -1 : a.ruleName > b.ruleName ? 1 : 0));
    return page(rules, paging, { name: 'ListTopicRules', scope: JSON.stringify(filter), maxSize: 10_000 });
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
