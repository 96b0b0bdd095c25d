import type { IotAccount } from './registry/account';
import type { PublishSource } from './rules';
import { isShadowReplyTopic, serveShadowRequest, ShadowService, type JsonObject, type ShadowKey, type ShadowMessage } from './shadows';

/**
 * The message side of the local IoT Core's data plane: where a message goes once the broker accepted it.
 * A device's publish (over MQTT) and an `iot-data` Publish (over HTTP) go to the account's MQTT subscribers
 * and to its topic rules; a request on a Device Shadow topic is also served, and the service's answers
 * (accepted/rejected, delta, documents) go out the same way, to every subscriber allowed iot:Receive, as AWS
 * publishes them (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html).
 *
 * Transport-free: the MQTT endpoint calls `onDevicePublish`, the HTTP data plane `publish`; delivery to
 * devices and to rules are ports, so neither the broker nor the rules engine is known here.
 */

export interface DataPlanePorts {
  /** To the account's connected devices whose subscriptions match and whose policies allow iot:Receive. */
  deliver(account: IotAccount, topic: string, payload: Buffer, qos: 0 | 1): void;
  /** To the account's topic rules (a JSON payload, as the rules engine reads it). */
  rules(account: IotAccount, topic: string, payload: unknown, source?: PublishSource): void;
  now?: () => Date;
}

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** Epoch milliseconds (the iot-data model's lastModifiedTime). */
  lastModifiedTime: number;
}

/** Topics nobody but the service publishes on (reserved topics: Subscribe and Receive only). */
export function isServiceTopic(topic: string): boolean {
  return isShadowReplyTopic(topic) || topic.startsWith('$aws/events/');
}

const shadowTopicPrefix = (key: ShadowKey) => `$aws/things/${key.thingName}/shadow${key.shadowName !== undefined ? `/name/${key.shadowName}` : ''}`;

/**
 * An account's retained messages, one per topic: what devices publish with the RETAIN flag over MQTT and what
 * iot-data Publish sends with `retain=true` land in the same store, which GetRetainedMessage and
 * ListRetainedMessages read ("It can then be sent to new subscribers, retrieved by calling the GetRetainedMessage
 * operation", developer guide "Using MQTT retained messages", mqtt.md#mqtt-retain). Kept per account, as AWS
 * keeps them ("the retained messages that have been stored by your Account in the current Region").
 */
export class RetainedMessages {
  /** accountId → topic → the retained message. */
  private readonly byAccount = new Map<string, Map<string, RetainedMessage>>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /**
   * Keeps `payload` as the topic's retained message; an empty payload deletes it ("Publishing an empty (null)
   * payload with retain = true deletes the retained message", iot-data model, Publish; mqtt.md: "Such messages
   * delete the retained message … but they are not retained").
   */
  put(accountId: string, topic: string, payload: Buffer, qos: 0 | 1): void {
    let messages = this.byAccount.get(accountId);
    if (!messages) this.byAccount.set(accountId, (messages = new Map()));
    if (!payload.length) messages.delete(topic);
    else messages.set(topic, { topic, payload, qos, lastModifiedTime: this.now().getTime() });
  }

  get(accountId: string, topic: string): RetainedMessage | undefined {
    return this.byAccount.get(accountId)?.get(topic);
  }

  list(accountId: string): RetainedMessage[] {
    return [...(this.byAccount.get(accountId)?.values() ?? [])].sort((a, b) => (a.topic < b.topic ? -1 : 1));
  }
}

export class DataPlane {
  readonly shadows: ShadowService;
  /** The accounts' retained messages, from iot-data Publish and from devices (the MQTT endpoint writes here too). */
  readonly retained: RetainedMessages;

  constructor(private readonly ports: DataPlanePorts) {
    this.shadows = new ShadowService(ports.now);
    this.retained = new RetainedMessages(ports.now);
  }

  /** A device published `payload` on `topic` (the broker delivers it to subscribers itself). */
  onDevicePublish(account: IotAccount, topic: string, payload: Buffer, source?: PublishSource): void {
    this.toRules(account, topic, payload, source);
    this.serveShadow(account, topic, payload);
  }

  /** iot-data Publish: like a device's publish, from the service side. */
  publish(account: IotAccount, topic: string, payload: Buffer, options: { qos: 0 | 1; retain: boolean }): void {
    if (options.retain) this.retained.put(account.accountId, topic, payload, options.qos);
    this.ports.deliver(account, topic, payload, options.qos);
    this.toRules(account, topic, payload);
    this.serveShadow(account, topic, payload);
  }

  /**
   * UpdateThingShadow over HTTP: the accepted document. Its /update/accepted, /delta and /documents go out on
   * MQTT as for a device's update; a refusal is the HTTP error only, "no MQTT error messages are emitted"
   * (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html).
   */
  updateShadow(account: IotAccount, key: ShadowKey, payload: Buffer): JsonObject {
    const result = this.shadows.update(account.accountId, key, payload);
    const prefix = shadowTopicPrefix(key);
    this.announce(account, [
      { topic: `${prefix}/update/accepted`, payload: result.accepted },
      ...(result.delta ? [{ topic: `${prefix}/update/delta`, payload: result.delta }] : []),
      { topic: `${prefix}/update/documents`, payload: result.documents },
    ]);
    return result.accepted;
  }

  /** DeleteThingShadow over HTTP: `{version, timestamp}`, announced on /delete/accepted. */
  deleteShadow(account: IotAccount, key: ShadowKey): JsonObject {
    const deleted = this.shadows.delete(account.accountId, key);
    this.announce(account, [{ topic: `${shadowTopicPrefix(key)}/delete/accepted`, payload: deleted }]);
    return deleted;
  }

  retainedMessage(account: IotAccount, topic: string): RetainedMessage | undefined {
    return this.retained.get(account.accountId, topic);
  }

  retainedMessages(account: IotAccount): RetainedMessage[] {
    return this.retained.list(account.accountId);
  }

  private serveShadow(account: IotAccount, topic: string, payload: Buffer): void {
    this.announce(account, serveShadowRequest(this.shadows, account.accountId, topic, payload) ?? []);
  }

  /** What the service publishes: to the account's subscribers, and to its rules. */
  private announce(account: IotAccount, messages: ShadowMessage[]): void {
    for (const answer of messages) {
      const body = Buffer.from(JSON.stringify(answer.payload));
      this.ports.deliver(account, answer.topic, body, 0);
      this.toRules(account, answer.topic, body);
    }
  }

  private toRules(account: IotAccount, topic: string, payload: Buffer, source?: PublishSource): void {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      // The local rules engine reads JSON only (`SELECT *`); a binary payload reaches no rule (local/README.md).
      // AWS adds SELECT's extra fields to "an empty or a JSON payload" only (binary-payloads.html), so a rule
      // like `SELECT *, principal() AS principal` has nothing to add them to either.
      return;
    }
    this.ports.rules(account, topic, json, source);
  }
}
