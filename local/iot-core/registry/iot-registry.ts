import { IotAccount, type EndpointType } from './account';
import type { TopicRuleRecord } from '../rules';
import { TrustRevision } from './support';

/**
 * The AWS IoT registry of the local IoT Core for one region: its accounts, each a set of services
 * (certificates and CAs, things, policies, provisioning, role aliases; see account.ts), the endpoint names
 * DescribeEndpoint gives them, and the revision of what the TLS trust stores hold. Operations follow the AWS
 * IoT API semantics of aws-iot-reference §0–§6; the control plane shapes their results into REST-JSON.
 */

export interface IotRegistryOptions {
  region: string;
  defaultAccountId: string;
  now?: () => Date;
  /** Hostname DescribeEndpoint returns; defaults to AWS's formats. */
  endpointAddress?: (account: IotAccount, type: EndpointType) => string;
  /** The topic rules deployed into an account (the rules engine holds them; GetTopicRule and ListTopicRules read them). */
  topicRules?: (accountId: string) => readonly TopicRuleRecord[];
  /** EnableTopicRule / DisableTopicRule in an account's rules engine. */
  setTopicRuleDisabled?: (accountId: string, ruleName: string, disabled: boolean) => boolean;
}

export class IotRegistry {
  readonly region: string;
  readonly defaultAccountId: string;
  private readonly accounts = new Map<string, IotAccount>();
  private readonly trust = new TrustRevision();
  private readonly now: () => Date;
  private readonly endpointAddress: (account: IotAccount, type: EndpointType) => string;
  private readonly topicRules: ((accountId: string) => readonly TopicRuleRecord[]) | undefined;
  private readonly setTopicRuleDisabled: ((accountId: string, ruleName: string, disabled: boolean) => boolean) | undefined;
  /**
   * Publishes a `$aws/events/…` message (Jobs events) in an account; set once the MQTT endpoint and the rules
   * engine exist (local-iot-core.ts). Unset: the events go nowhere.
   */
  publishEvent: ((account: IotAccount, topic: string, payload: Buffer) => void) | undefined;

  constructor(options: IotRegistryOptions) {
    this.region = options.region;
    this.defaultAccountId = options.defaultAccountId;
    this.now = options.now ?? (() => new Date());
    this.endpointAddress = options.endpointAddress ?? IotRegistry.awsEndpointAddress;
    this.topicRules = options.topicRules;
    this.setTopicRuleDisabled = options.setTopicRuleDisabled;
  }

  /** The endpoint names AWS gives an account (aws-iot-reference §4, DescribeEndpoint). */
  static awsEndpointAddress(account: IotAccount, type: EndpointType): string {
    const domain = `iot.${account.region}.amazonaws.com`;
    switch (type) {
      case 'iot:Data':
        return `${account.endpointPrefix}.${domain}`;
      case 'iot:Data-ATS':
        return `${account.endpointPrefix}-ats.${domain}`;
      case 'iot:CredentialProvider':
        return `${account.endpointPrefix}.credentials.${domain}`;
      case 'iot:Jobs':
        return `${account.endpointPrefix}.jobs.${domain}`;
    }
  }

  /** Moves whenever what the TLS trust stores hold changes (see TrustRevision). */
  get revision(): number {
    return this.trust.current;
  }

  account(accountId: string = this.defaultAccountId): IotAccount {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = new IotAccount({
        accountId,
        region: this.region,
        now: this.now,
        trust: this.trust,
        endpointAddress: this.endpointAddress,
        ...(this.topicRules ? { topicRules: this.topicRules } : {}),
        ...(this.setTopicRuleDisabled ? { setTopicRuleDisabled: this.setTopicRuleDisabled } : {}),
        publishEvent: (self, topic, payload) => this.publishEvent?.(self, topic, payload),
        registeredInDefaultModeElsewhere: (self, caCertificateId) =>
          this.allAccounts().some((other) => other !== self && other.certificates.hasDefaultModeCa(caCertificateId)),
      });
      this.accounts.set(accountId, account);
    }
    return account;
  }

  allAccounts(): IotAccount[] {
    return [...this.accounts.values()];
  }

  /** The account whose data (or credential provider) endpoint the TLS SNI names, if any. */
  accountForServerName(serverName: string | undefined): IotAccount | undefined {
    if (!serverName) return undefined;
    const name = serverName.toLowerCase();
    return this.allAccounts().find((account) =>
      (['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider'] as const).some((type) => this.endpointAddress(account, type).toLowerCase() === name),
    );
  }
}
