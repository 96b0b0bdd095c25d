import { randomUUID } from 'node:crypto';
import type { IotAccount } from './registry/account';

/**
 * AWS IoT's lifecycle events, as the local IoT Core publishes them (developer guide "Lifecycle events",
 * https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html):
 *
 * - `$aws/events/presence/connected/<clientId>` on each accepted CONNECT and
 *   `$aws/events/presence/disconnected/<clientId>` when that connection ends, with clientId, timestamp
 *   (epoch ms), eventType, sessionIdentifier, principalIdentifier (a certificate's id for mutual TLS), ipAddress,
 *   versionNumber; a disconnect adds clientInitiatedDisconnect and disconnectReason (the page's table).
 *   `thingName` only when the client connects with the exclusive-thing feature.
 * - `$aws/events/presence/connect_failed/<clientId>` when a CONNECT with a usable certificate is refused by its
 *   policy (eventType connect_failed, failureType AUTHORIZATION_FAILURE).
 * - `$aws/events/subscriptions/subscribed|unsubscribed/<clientId>` with the topics, for SUBSCRIBE / UNSUBSCRIBE.
 *
 * "Client IDs that contain # or + do not receive lifecycle events." "Lifecycle messages might be sent out of
 * order": a takeover's connected event for the new connection comes here before the old one's disconnected.
 * versionNumber: one number per connection of a client id, increasing with each connect, shared by the connect
 * and the disconnect of that connection, so a subscriber can tell a stale disconnect from the current session
 * (the page: subscribers may use it to order events; how AWS counts is not measured).
 */

/** disconnectReason values of the developer guide's table (those the local IoT Core produces are marked in `reasonOf`). */
export type DisconnectReason =
  | 'AUTH_ERROR'
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'FORBIDDEN_ACCESS'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'SERVER_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'API_INITIATED_DISCONNECT'
  | 'THROTTLED'
  | 'WEBSOCKET_TTL_EXPIRATION'
  | 'CUSTOMAUTH_TTL_EXPIRATION'
  | 'UNKNOWN';

export interface PresenceEvent {
  clientId: string;
  timestamp: number;
  eventType: 'connected' | 'disconnected';
  sessionIdentifier: string;
  principalIdentifier: string;
  ipAddress: string;
  versionNumber: number;
  thingName?: string;
  clientInitiatedDisconnect?: boolean;
  disconnectReason?: DisconnectReason;
}

/** What the events need of a connection: its id and socket (aedes's Client). */
export interface LifecycleClient {
  id: string;
  /** The client's socket (a TLSSocket here); its remoteAddress is the event's ipAddress. */
  conn: object;
}

interface Session {
  account: IotAccount;
  sessionIdentifier: string;
  principalIdentifier: string;
  ipAddress: string;
  versionNumber: number;
  thingName?: string;
  /** Why the service is closing the connection, if it is (first reason wins). */
  closing?: DisconnectReason;
}

/** The service publishes an event in an account: to its subscribers and its rules. */
export type PublishEvent = (account: IotAccount, topic: string, payload: Buffer) => void;

const noLifecycleEvents = (clientId: string) => /[#+]/.test(clientId);
// Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; AWS's ipAddress is the plain address.
const ipOf = (client: LifecycleClient) => ((client.conn as { remoteAddress?: string }).remoteAddress ?? '').replace(/^::ffff:/, '');

export class LifecycleEvents {
  private readonly sessions = new WeakMap<object, Session>();
  /** Last versionNumber per account and client id. */
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly publish: PublishEvent,
    private readonly now: () => number,
  ) {}

  /** An accepted CONNECT. */
  connected(account: IotAccount, client: LifecycleClient, principalIdentifier: string, thingName?: string): void {
    const key = `${account.accountId}/${client.id}`;
    const versionNumber = (this.versions.get(key) ?? -1) + 1;
    this.versions.set(key, versionNumber);
    const session: Session = {
      account,
      sessionIdentifier: randomUUID(),
      principalIdentifier,
      ipAddress: ipOf(client),
      versionNumber,
      ...(thingName !== undefined ? { thingName } : {}),
    };
    this.sessions.set(client, session);
    this.emit(session, client.id, 'presence/connected', { eventType: 'connected' });
  }

  /** The service is about to close the connection for `reason` (a takeover, a denied action, a keep-alive timeout). */
  closing(client: LifecycleClient, reason: DisconnectReason): void {
    const session = this.sessions.get(client);
    if (session && !session.closing) session.closing = reason;
  }

  /**
   * The connection ended. `sentDisconnect`: the client sent DISCONNECT (CLIENT_INITIATED_DISCONNECT); otherwise
   * the reason the service gave in `closing`, or CONNECTION_LOST (the socket closed or failed under it).
   */
  disconnected(client: LifecycleClient, sentDisconnect: boolean): void {
    const session = this.sessions.get(client);
    if (!session) return;
    this.sessions.delete(client);
    const disconnectReason: DisconnectReason = session.closing ?? (sentDisconnect ? 'CLIENT_INITIATED_DISCONNECT' : 'CONNECTION_LOST');
    this.emit(session, client.id, 'presence/disconnected', {
      eventType: 'disconnected',
      clientInitiatedDisconnect: disconnectReason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason,
    });
  }

  /** A CONNECT refused by the certificate's policy (iot:Connect). */
  connectFailed(account: IotAccount, client: LifecycleClient, principalIdentifier: string): void {
    if (noLifecycleEvents(client.id)) return;
    const payload = { clientId: client.id, timestamp: this.now(), eventType: 'connect_failed', failureType: 'AUTHORIZATION_FAILURE', principalIdentifier, ipAddress: ipOf(client) };
    this.publish(account, `$aws/events/presence/connect_failed/${client.id}`, Buffer.from(JSON.stringify(payload)));
  }

  /** SUBSCRIBE / UNSUBSCRIBE of a connected client, with the topic filters. */
  subscriptions(client: LifecycleClient, eventType: 'subscribed' | 'unsubscribed', topics: string[]): void {
    const session = this.sessions.get(client);
    if (!session || topics.length === 0) return;
    this.emit(session, client.id, `subscriptions/${eventType}`, { eventType, topics });
  }

  private emit(session: Session, clientId: string, path: string, fields: Record<string, unknown>): void {
    if (noLifecycleEvents(clientId)) return;
    const subscriptionEvent = path.startsWith('subscriptions/');
    const payload = {
      clientId,
      timestamp: this.now(),
      ...fields,
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      // The subscription events carry no address or version (the developer guide's example).
      ...(subscriptionEvent ? {} : { ipAddress: session.ipAddress, versionNumber: session.versionNumber }),
      ...(session.thingName !== undefined && !subscriptionEvent ? { thingName: session.thingName } : {}),
    };
    this.publish(session.account, `$aws/events/${path}/${clientId}`, Buffer.from(JSON.stringify(payload)));
  }
}
