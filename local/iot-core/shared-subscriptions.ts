import type { Client } from 'aedes';
import { topicMatches } from './rules';

/**
 * Shared subscriptions (`$share/<group>/<filter>`), as AWS IoT Core serves them to MQTT 3.1.1 and MQTT 5
 * clients: each message that matches the filter goes to one member of the group, not to all of them ("How to
 * get started with the new shared subscriptions in AWS IoT Core", AWS IoT blog; the device SDKs' shared
 * subscription samples describe the choice as round robin).
 *
 * aedes 2.0.0-beta.1 refuses them (SUBACK 0x9E, lib/handlers/subscribe.js). So before aedes reads a
 * SUBSCRIBE or UNSUBSCRIBE, `$share/<group>/<filter>` is rewritten to `<filter>` and the group remembered
 * for that client id; aedes then subscribes the plain filter, and the endpoint's authorizeForward asks
 * `mayDeliver` which member of each group a message goes to. A client that holds the same filter both
 * shared and plain is a known difference: the later subscription wins.
 */

const SHARE = /^\$share\/([^/+#]+)\/(.+)$/;
const SHARED_GROUP = Symbol('shared group');

/** The group of a subscription that arrived as `$share/<group>/<filter>` (rewritten by `attach`). */
export function sharedGroupOf(subscription: object): string | undefined {
  return (subscription as { [SHARED_GROUP]?: string })[SHARED_GROUP];
}

export function parseShared(topicFilter: string): { group: string; filter: string } | undefined {
  const match = SHARE.exec(topicFilter);
  return match ? { group: match[1]!, filter: match[2]! } : undefined;
}

interface ParsedPacket {
  cmd: string;
  subscriptions?: { topic: string }[];
  unsubscriptions?: string[];
}

/** The parts of aedes's Client this relies on (aedes 2.0.0-beta.1 lib/client.js). */
interface AedesClientInternals {
  _parser: { prependListener(event: 'packet', listener: (packet: ParsedPacket) => void): void };
  subscriptions: Record<string, unknown>;
}

/** A message as aedes hands it to authorizeForward: one broker counter per published message. */
export interface ForwardedPacket {
  topic: string;
  brokerId?: string;
  brokerCounter?: number;
}

const CHOICES_KEPT = 10_000;

export class SharedSubscriptions {
  /** Per client id: plain filter → group. Kept across connections: a persistent session keeps its subscriptions. */
  private readonly groupsOf = new Map<string, Map<string, string>>();
  /** Per message and group, the member chosen; per group, the round-robin position. */
  private readonly choices = new Map<string, string>();
  private readonly turns = new Map<string, number>();

  constructor(private readonly connected: (clientId: string) => boolean) {}

  /**
   * Rewrites the connection's `$share/<group>/<filter>` to `<filter>` before aedes handles the packet; the
   * group travels on the subscription to authorizeSubscribe (`sharedGroupOf`), which decides and `join`s.
   */
  attach(client: Client): void {
    (client as unknown as AedesClientInternals)._parser.prependListener('packet', (packet) => {
      if (packet.cmd === 'subscribe') {
        for (const subscription of packet.subscriptions ?? []) {
          const shared = parseShared(subscription.topic);
          if (!shared) continue;
          subscription.topic = shared.filter;
          Object.defineProperty(subscription, SHARED_GROUP, { value: shared.group, enumerable: false });
          // "Retained messages are not sent to the Session when it establishes a new Shared Subscription" (MQTT
          // 5.0 §4.8.2): Retain Handling 2 makes aedes send none for the rewritten plain filter.
          (subscription as { rh?: number }).rh = 2;
        }
      } else if (packet.cmd === 'unsubscribe' && packet.unsubscriptions) {
        packet.unsubscriptions = packet.unsubscriptions.map((topicFilter) => {
          const shared = parseShared(topicFilter);
          if (shared) this.groupsOf.get(client.id)?.delete(shared.filter);
          return shared?.filter ?? topicFilter;
        });
      }
    });
  }

  /** A granted subscription: shared in `group`, or plain (undefined), replacing what the client had for the filter. */
  join(clientId: string, filter: string, group: string | undefined): void {
    if (group) this.groupsFor(clientId).set(filter, group);
    else this.groupsOf.get(clientId)?.delete(filter);
  }

  /** A clean session starts without the groups of an earlier one. */
  forget(clientId: string): void {
    this.groupsOf.delete(clientId);
  }

  /** The groups through which this client would receive the topic, or undefined if a plain subscription matches. */
  sharedMatches(client: Client, topic: string): { group: string; filter: string }[] | undefined {
    const groups = this.groupsOf.get(client.id);
    const filters = Object.keys((client as unknown as AedesClientInternals).subscriptions ?? {}).filter((filter) => topicMatches(filter, topic));
    if (!groups || filters.some((filter) => !groups.has(filter))) return undefined;
    return filters.map((filter) => ({ group: groups.get(filter)!, filter }));
  }

  /**
   * How the message reaches this client: undefined through a plain subscription (or none of its own), else
   * the groups whose member for this message it is (empty: another member gets it).
   */
  deliveringGroups(client: Client, packet: ForwardedPacket): string[] | undefined {
    const matches = this.sharedMatches(client, packet.topic);
    if (!matches || matches.length === 0) return undefined;
    return matches.filter(({ group, filter }) => this.chosen(group, filter, packet) === client.id).map(({ group }) => group);
  }

  private chosen(group: string, filter: string, packet: ForwardedPacket): string | undefined {
    const groupKey = `${group}\n${filter}`;
    const key = `${packet.brokerId ?? ''}:${packet.brokerCounter ?? ''}\n${groupKey}`;
    const known = this.choices.get(key);
    if (known !== undefined) return known;
    const members = [...this.groupsOf].filter(([, groups]) => groups.get(filter) === group).map(([clientId]) => clientId);
    // Connected members first; a message for a group with none online goes to one of the sessions.
    const online = members.filter((clientId) => this.connected(clientId));
    const candidates = online.length > 0 ? online : members;
    if (candidates.length === 0) return undefined;
    const turn = this.turns.get(groupKey) ?? 0;
    this.turns.set(groupKey, turn + 1);
    const member = candidates[turn % candidates.length]!;
    if (this.choices.size >= CHOICES_KEPT) this.choices.delete(this.choices.keys().next().value!);
    this.choices.set(key, member);
    return member;
  }

  private groupsFor(clientId: string): Map<string, string> {
    let groups = this.groupsOf.get(clientId);
    if (!groups) this.groupsOf.set(clientId, (groups = new Map()));
    return groups;
  }
}
