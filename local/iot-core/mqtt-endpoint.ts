import { Duplex, Readable } from 'node:stream';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type Client, type Subscription } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { closeServer, listenOn } from '../net';
import type { HandshakeResult } from './device-gateway';
import { DeviceTls, type DeviceEndpointOptions } from './device-tls';
import type { FunctionInvoker } from '../lambda/async-lambda';
import { FleetProvisioning, isFleetRequestTopic, isFleetTopic, type Requester } from './fleet-provisioning';
import { evaluatePolicies, resolveConnectionThing, type IotAction, type PolicyContext } from './policy-evaluator';
import type { IotAccount } from './registry/account';
import type { ProvisioningClaim } from './registry/provisioning';
import { topicMatches, type PublishSource } from './rules';
import { SharedSubscriptions, sharedGroupOf, type ForwardedPacket } from './shared-subscriptions';
import { isServiceTopic, type RetainedMessages } from './data-plane';
import { splitPemChain } from './pem';
import { isJobsRequestTopic, isJobsTopic, JobsMqtt } from './jobs-mqtt';
import { LifecycleEvents, type PublishEvent } from './lifecycle-events';

/**
 * The device-facing side of the local IoT Core: MQTT 3.1.1 and MQTT 5 over mutual TLS (aedes 2), as AWS IoT
 * runs it; the same decisions for both versions, answered in each version's words.
 *
 * - TLS: as `device-tls.ts` describes (the client certificate must chain to what the account trusts).
 * - CONNECT: the device gateway decides (JITR registration, status); then the certificate's policies must
 *   allow iot:Connect for the client id. A refusal closes the connection: MQTT 3.1.1 gets CONNACK 5 first only
 *   when just-in-time registration applies (the certificate is PENDING_ACTIVATION), MQTT 5 gets CONNACK 0x87
 *   "not authorized" (see `refuseConnect`).
 * - PUBLISH / SUBSCRIBE / delivery: iot:Publish, iot:Subscribe, iot:Receive, evaluated per message. An
 *   unauthorized publish closes a 3.1.1 connection (it has no negative PUBACK); MQTT 5 gets PUBACK 0x87 and
 *   keeps the connection (aedes 2). Evidence: AWS answered an MQTT 5 publish with a failing PUBACK reason
 *   code, not a disconnect, in aws/aws-iot-device-sdk-python-v2#620; 0x87 for a policy refusal is MQTT 5's
 *   code for it (no AWS page says). An unauthorized subscription closes a 3.1.1 connection (no SUBACK) and
 *   gets SUBACK 0x87 on MQTT 5 (see `authorizeSubscribe`).
 * - Retained messages: a PUBLISH with RETAIN also needs iot:RetainPublish; they live in the account's store
 *   that iot-data reads (data-plane.ts `RetainedMessages`), not in aedes, and are sent on subscribe only to a
 *   filter equal to their topic (see `useAccountRetainedStore`).
 * - MQTT 5 within AWS IoT Core's limits: session expiry capped at 1 hour (the default persistent-session
 *   expiry, developer guide "MQTT persistent sessions"; 3.1.1 persistent sessions expire then too), topic
 *   aliases up to 8, QoS 0 and 1, no subscription identifiers; message expiry, user properties, response
 *   topic and correlation data pass through, to subscribers of either version. Shared subscriptions
 *   (`$share/<group>/<filter>`) for both versions: `shared-subscriptions.ts`.
 * - The fleet-provisioning API topics are served here; replies go only to the requesting connection. So are the
 *   Jobs API's (jobs-mqtt.ts): its answers to the requesting connection, subscribed or not, its notifications
 *   to the thing's subscribers; iot:Receive applies to both.
 * - Every other accepted publish also goes to `onDevicePublish` (data-plane.ts: topic rules, Device Shadow
 *   topics); `deliver` sends what the service publishes to the account's subscribers.
 * - Lifecycle events (connected, disconnected with its reason, connect_failed, subscribed, unsubscribed) go to
 *   `publishEvent`: lifecycle-events.ts.
 */

interface Principal {
  account: IotAccount;
  certificateId: string;
  claim?: ProvisioningClaim;
  connectedAt: number;
  context: PolicyContext;
}

// A claim connection may use the fleet-provisioning API for 5 minutes (aws-iot-reference §3.4).
const CLAIM_SESSION_MS = 5 * 60_000;

/** What a CreateProvisioningClaim certificate may do: that template's fleet-provisioning topics only. */
function claimPolicy(account: IotAccount, templateName: string): string {
  const prefix = account.arn('');
  const topics = ['$aws/certificates/create/*', '$aws/certificates/create-from-csr/*', `$aws/provisioning-templates/${templateName}/provision/*`];
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${prefix}client/*` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => `${prefix}topic/${t}`) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => `${prefix}topicfilter/${t}`) },
    ],
  });
}

/**
 * Session Expiry Interval cap, seconds: AWS's default persistent-session expiry, 1 hour (developer guide,
 * "MQTT persistent sessions"; an account quota AWS raises on request, fixed here). Requests above it are
 * answered with it in the CONNACK.
 */
export const SESSION_EXPIRY_LIMIT_SECONDS = 3_600;
/** Topic Alias Maximum AWS IoT Core advertises: 8, as measured in awslabs/aws-crt-java#618. */
export const TOPIC_ALIAS_MAXIMUM = 8;

/**
 * What the CONNACK of an MQTT 5 connection says beyond aedes's defaults, as AWS IoT Core: QoS 1 at most
 * (AWS IoT supports QoS 0 and 1, developer guide "MQTT QoS options"), shared subscriptions available,
 * subscription identifiers not (re:Post "mqtt5 subscription identifiers"). aedes 2.0.0-beta.1 has no option
 * for any of the three (lib/handlers/connect.js connackProperties writes sharedSubscriptionAvailable=false),
 * so the CONNACKs to this endpoint's sockets are amended on their way to mqtt-packet. Drop this once aedes
 * takes them as options.
 */
const AWS_CONNACK_PROPERTIES = { maximumQoS: 1, sharedSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false } as const;
const endpointSockets = new WeakSet<object>();
const packets = mqttPacket as unknown as { writeToStream: (packet: { cmd: string; properties?: object }, stream: object, options?: object) => boolean };
const writeToStream = packets.writeToStream;
packets.writeToStream = (packet, stream, options) => {
  if (packet.cmd === 'connack' && packet.properties && endpointSockets.has(stream)) Object.assign(packet.properties, AWS_CONNACK_PROPERTIES);
  return writeToStream(packet, stream, options);
};

/**
 * aedes 2.0.0-beta.1 publishes a Will Message with its will properties, Will Delay Interval included, which
 * is not a PUBLISH property: strict MQTT 5 clients reject the packet (moscajs/aedes#1098). Subscribers get
 * the will without it, as the MQTT 5 specification has the server send it (§3.1.3.2).
 */
function withoutWillDelay<T extends { properties?: object }>(packet: T): T {
  if (!packet.properties || !('willDelayInterval' in packet.properties)) return packet;
  const { willDelayInterval: _dropped, ...properties } = packet.properties as { willDelayInterval?: number };
  return { ...packet, properties };
}

const notAuthorized = () => Object.assign(new Error('not authorized'), { returnCode: 5 as const });

/** aedes's default persistence as far as retained messages go (aedes-persistence 10). */
interface RetainedPersistence {
  storeRetained(packet: { topic: string; payload: Buffer; qos: number }): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): Readable;
  createRetainedStream(pattern: string): Readable;
}

/** Whether a topic filter has MQTT wildcards. */
const hasWildcard = (filter: string) => /[+#]/.test(filter);

/**
 * One connection outcome. MQTT CONNECTs name the client id and the certificate (as AWS IoT's Connect log
 * entries in CloudWatch Logs do: clientId, principalId); TLS refusals and denied publishes name neither.
 */
export interface ConnectionLogEntry {
  event: 'refused' | 'connected' | 'publish-denied' | 'subscribe-denied';
  detail: string;
  at: number;
  clientId?: string;
  certificateId?: string;
  /** The account the certificate authenticated in (the SNI's), where the handshake got that far. */
  accountId?: string;
  /** The MQTT version of an accepted connection. */
  mqtt?: '3.1.1' | '5';
}

/** An account's broker: its connections, sessions and subscriptions, shared ones included. */
interface AccountBroker {
  aedes: Aedes;
  ready: Promise<void>;
  /** Connected clients by id (shared subscriptions prefer online members). */
  online: Map<string, Client>;
  shared: SharedSubscriptions;
}

export class MqttEndpoint {
  private readonly handshakes = new WeakMap<object, Extract<HandshakeResult, { ok: true }>>();
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly tls: DeviceTls;
  /**
   * One broker per account: topics, client ids, sessions and retained messages are an account's own on AWS
   * (a device's SNI picks the account; aws-iot-reference §2). Created on an account's first connection.
   */
  private readonly brokers = new Map<string, AccountBroker>();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<TLSSocket>();
  private serviceMessages = 0;
  readonly fleet: FleetProvisioning;
  readonly jobs: JobsMqtt;
  /** Connection outcomes, newest last, for tests, the sandbox and `devices why` (GET /_local/connections). */
  readonly log: ConnectionLogEntry[] = [];
  port = 0;
  private readonly lifecycle: LifecycleEvents;
  private closing = false;

  constructor(
    private readonly options: DeviceEndpointOptions & {
      invoke: FunctionInvoker;
      /** Where an accepted device publish goes besides the broker's subscribers: the rules, the Device Shadow service (data-plane.ts). */
      onDevicePublish?: (account: IotAccount, topic: string, payload: Buffer, source: PublishSource) => void;
      /** The accounts' retained messages, shared with iot-data (GetRetainedMessage, ListRetainedMessages). */
      retained?: RetainedMessages;
      /** Where the lifecycle events go: the account's subscribers and rules (local-iot-core.ts). */
      publishEvent?: PublishEvent;
    },
  ) {
    // Once the endpoint is closing, its connections' ends are the emulator's shutdown, not events.
    this.lifecycle = new LifecycleEvents((account, topic, payload) => !this.closing && options.publishEvent?.(account, topic, payload), () => this.now());
    this.fleet = new FleetProvisioning(options.registry, options.issuer, options.invoke, options.now);
    this.jobs = new JobsMqtt((account, topic, payload) => this.deliver(account, topic, payload, 1));
    this.tls = new DeviceTls(options.registry, options.issuer, options.tls);
  }

  /** The account's broker, created on the account's first connection. */
  private brokerOf(accountId: string): AccountBroker {
    let broker = this.brokers.get(accountId);
    if (!broker) {
      const online = new Map<string, Client>();
      const aedes = new Aedes({
        heartbeatInterval: 3_600_000,
        topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
        sessionExpiryIntervalLimit: SESSION_EXPIRY_LIMIT_SECONDS,
        authenticate: (client, _u, _p, done) => this.authenticate(client, done),
        authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
        authorizeSubscribe: (client, subscription, done) => this.authorizeSubscribe(client, subscription, done),
        authorizeForward: (client, packet) => (this.mayReceive(client, packet) ? withoutWillDelay(packet) : null),
      });
      aedes.on('clientDisconnect', (client) => {
        if (online.get(client.id) === client) online.delete(client.id);
        // aedes sets _disconnected when the client sent DISCONNECT (lib/handlers/index.js).
        this.lifecycle.disconnected(client, (client as unknown as { _disconnected?: boolean })._disconnected === true);
      });
      aedes.on('keepaliveTimeout', (client) => this.lifecycle.closing(client, 'MQTT_KEEP_ALIVE_TIMEOUT'));
      aedes.on('subscribe', (subscriptions, client) => this.lifecycle.subscriptions(client, 'subscribed', subscriptions.map((s) => s.topic)));
      // aedes also unsubscribes a closing clean session: that is the disconnect, not an UNSUBSCRIBE.
      aedes.on('unsubscribe', (topics, client) => !client.closed && this.lifecycle.subscriptions(client, 'unsubscribed', topics));
      // aedes creates its persistence in listen().
      broker = { aedes, ready: aedes.listen().then(() => this.useAccountRetainedStore(aedes, accountId)), online, shared: new SharedSubscriptions((clientId) => online.has(clientId)) };
      this.brokers.set(accountId, broker);
    }
    return broker;
  }

  /**
   * aedes keeps retained messages in its own persistence and sends every one a new filter matches, wildcards
   * included. AWS IoT Core keeps them per account where iot-data reads them, and "To receive a retained message
   * upon subscription, the topic filter in the subscription request must match the retained message topic
   * exactly"; a wildcard filter "doesn't deliver the retained message upon subscription" (developer guide,
   * mqtt.md#mqtt-retain). So this broker's retained store is the account's: what aedes stores goes there (an
   * empty payload deletes), and on subscribe aedes reads from it only the filters without wildcards. aedes then
   * sends them with RETAIN set, honours Retain Handling, and passes each through authorizeForward (iot:Receive).
   */
  private useAccountRetainedStore(aedes: Aedes, accountId: string): void {
    const persistence = (aedes as unknown as { persistence: RetainedPersistence }).persistence;
    const retained = this.options.retained;
    persistence.storeRetained = async (packet) => {
      retained?.put(accountId, packet.topic, Buffer.from(packet.payload ?? []), packet.qos ? 1 : 0);
    };
    const exactly = (filters: string[]) =>
      Readable.from(
        filters
          .filter((filter) => !hasWildcard(filter))
          .map((topic) => retained?.get(accountId, topic))
          .filter((message) => message !== undefined)
          .map(({ topic, payload, qos }) => ({ cmd: 'publish', topic, payload, qos, retain: true })),
      );
    persistence.createRetainedStreamCombi = exactly;
    persistence.createRetainedStream = (filter) => exactly([filter]);
  }

  private now(): number {
    return (this.options.now?.() ?? new Date()).getTime();
  }

  async listen(port: number, hosts: readonly string[] = ['127.0.0.1', '::1']): Promise<number> {
    for (const host of hosts) {
      const server = createServer(this.tls.serverOptions());
      server.on('secureConnection', (socket) => this.onSecureConnection(socket));
      server.on('connection', (socket) => {
        this.sockets.add(socket as TLSSocket);
        socket.once('close', () => this.sockets.delete(socket as TLSSocket));
      });
      server.on('tlsClientError', (error) => this.log.push({ event: 'refused', detail: `tls: ${error.message}`, at: this.now() }));
      try {
        port = await listenOn(server, port, host);
      } catch (error) {
        // ::1 may not exist on this machine; 127.0.0.1 is required.
        if (host === '127.0.0.1') throw error;
        continue;
      }
      this.servers.push(server);
    }
    this.port = port;
    return port;
  }

  async close(): Promise<void> {
    this.jobs.close();
    this.closing = true;
    const closed = Promise.all(this.servers.map((server) => closeServer(server)));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([...this.brokers.values()].map(async ({ aedes, ready }) => {
      await ready;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }));
    await closed;
  }

  private onSecureConnection(socket: TLSSocket): void {
    const chain = DeviceTls.peerChain(socket);
    const servername = typeof socket.servername === 'string' ? socket.servername : undefined;
    const handshake = this.options.gateway.verifyHandshake(chain, servername);
    if (!handshake.ok) {
      this.log.push({ event: 'refused', detail: `tls: ${handshake.reason}`, at: this.now() });
      socket.destroy();
      return;
    }
    this.handshakes.set(socket, handshake);
    socket.on('error', () => socket.destroy());
    endpointSockets.add(socket);
    // The socket holds what the device sends until the broker reads it.
    const broker = this.brokerOf(handshake.account.accountId);
    void broker.ready.then(() => {
      if (!socket.destroyed) broker.shared.attach(broker.aedes.handle(socket));
    });
  }

  /**
   * A connection without TLS, for a caller in this process (the bench's rotation wave: thousands of handshakes on
   * two cores would measure the machine): `chainPem` is judged as the TLS layer judges a peer's chain
   * (`verifyHandshake`, SNI `serverName`), then MQTT runs over the returned stream exactly as over a socket — the
   * same CONNECT decision, policy checks and lifecycle events (principalIdentifier = the certificate's id). The
   * stream's `remoteAddress` is 127.0.0.1. A refused chain gets `{ reason }` and no stream, as a TLS refusal gets
   * no MQTT.
   */
  connectInProcess(chainPem: string, serverName?: string): { stream: Duplex } | { reason: string } {
    let chain;
    try {
      chain = splitPemChain(chainPem);
    } catch {
      return { reason: 'bad-certificate' };
    }
    const handshake = this.options.gateway.verifyHandshake(chain, serverName);
    if (!handshake.ok) {
      this.log.push({ event: 'refused', detail: `tls: ${handshake.reason}`, at: this.now() });
      return { reason: handshake.reason };
    }
    const [server, client] = duplexPair();
    this.handshakes.set(server, handshake);
    endpointSockets.add(server);
    const broker = this.brokerOf(handshake.account.accountId);
    void broker.ready.then(() => {
      if (!server.destroyed && !this.closing) broker.shared.attach(broker.aedes.handle(server));
    });
    return { stream: client };
  }

  private policyDocuments(principal: Principal): string[] {
    if (principal.claim) return [claimPolicy(principal.account, principal.claim.templateName)];
    const certificate = principal.account.certificates.find(principal.certificateId);
    // The thing named by the client id brings its thing groups' policies (registry/policies.ts documentsFor).
    return certificate ? principal.account.policies.documentsFor(certificate.certificateArn, { thingName: principal.context.clientId }) : [];
  }

  private allowed(principal: Principal, action: IotAction, resource: string): boolean {
    return evaluatePolicies(this.policyDocuments(principal), { action, resource: principal.account.arn(resource) }, principal.context).allowed;
  }

  private authenticate(client: Client, done: (error: (Error & { returnCode: 5 }) | null, success: boolean | null) => void): void {
    const handshake = this.handshakes.get(client.conn);
    if (!handshake) return done(notAuthorized(), false);
    const result = this.options.gateway.connect(handshake);
    if (!result.accepted) {
      this.log.push({
        event: 'refused',
        detail: `connect ${client.id}: ${result.reason}`,
        at: this.now(),
        clientId: client.id,
        ...(handshake.ok ? { certificateId: handshake.certificateId, accountId: handshake.account.accountId } : {}),
      });
      return this.refuseConnect(client, result.reason, done);
    }
    const attachments = result.certificate
      ? result.account.things.thingsOf(result.certificate.certificateArn).map(({ thingName, type }) => ({ thingName, exclusive: type === 'EXCLUSIVE_THING' }))
      : [];
    const principal: Principal = {
      account: result.account,
      certificateId: result.certificateId,
      ...(result.claim ? { claim: result.claim } : {}),
      connectedAt: this.now(),
      context: { clientId: client.id, ...resolveConnectionThing(client.id, attachments) },
    };
    if (!this.allowed(principal, 'iot:Connect', `client/${client.id}`)) {
      this.log.push({ event: 'refused', detail: `connect ${client.id}: iot:Connect not allowed`, at: this.now(), clientId: client.id, certificateId: result.certificateId, accountId: result.account.accountId });
      this.lifecycle.connectFailed(result.account, client, result.certificateId);
      return this.refuseConnect(client, 'iot-connect-denied', done);
    }
    this.principals.set(client, principal);
    this.jobs.watch(result.account);
    const broker = this.brokerOf(result.account.accountId);
    if (client.clean) broker.shared.forget(client.id);
    // The connection it takes over ends with DUPLICATE_CLIENTID (aedes closes it once this one registers).
    const previous = broker.online.get(client.id);
    if (previous && previous !== client) this.lifecycle.closing(previous, 'DUPLICATE_CLIENTID');
    broker.online.set(client.id, client);
    const exclusiveThing = attachments.find((a) => a.exclusive && a.thingName === principal.context.thingName)?.thingName;
    this.lifecycle.connected(result.account, client, result.certificateId, exclusiveThing);
    this.log.push({
      event: 'connected',
      detail: client.id,
      at: this.now(),
      clientId: client.id,
      certificateId: result.certificateId,
      accountId: result.account.accountId,
      mqtt: client.version === 5 ? '5' : '3.1.1',
    });
    done(null, true);
  }

  /**
   * How a refused CONNECT ends. MQTT 3.1.1: CONNACK 5 and close only where just-in-time registration applies
   * (measured on AWS: `20 02 00 05`, ministackorg/ministack#1755); otherwise the connection is closed without a
   * CONNACK, as reported for a denied iot:Connect (aws/aws-iot-device-sdk-js-v2#101, 2020, and
   * aws/aws-iot-device-sdk-python-v2#262, 2022: AWS_ERROR_MQTT_UNEXPECTED_HANGUP, no return code) and for
   * unusable certificates ("AWS closes the socket without a CONNACK unless just-in-time registration applies",
   * ministack#1755; floci-io/floci#3180). MQTT 5: CONNACK 0x87 "Not authorized", the CONNACK code in AWS IoT
   * Core's MQTT 5 reason-code table (dev.classmethod.jp "aws-iot-core-mqtt-v5-reason-code"); not measured.
   */
  private refuseConnect(client: Client, reason: string, done: (error: (Error & { returnCode: 5 }) | null, success: boolean | null) => void): void {
    if (client.version !== 5 && reason !== 'certificate-pending-activation') {
      // aedes sends no CONNACK for a client closed while authenticate runs (lib/handlers/connect.js negate).
      client.close();
    }
    done(notAuthorized(), false);
  }

  private authorizePublish(client: Client | null, packet: { topic: string; payload: Buffer | string; retain?: boolean }, done: (error?: Error | null) => void): void {
    const { topic } = packet;
    const payload = Buffer.from(packet.payload ?? []);
    const principal = client ? this.principals.get(client) : undefined;
    if (!client || !principal) return done(new Error('not authorized'));
    // Reserved topics: the service publishes replies and events there, devices may not.
    const reserved = (isFleetTopic(topic) && !isFleetRequestTopic(topic)) || (isJobsTopic(topic) && !isJobsRequestTopic(topic)) || isServiceTopic(topic);
    // A retained publish also needs iot:RetainPublish ("For a device to publish retained messages, the device must
    // be able to connect, publish (any MQTT message), and publish MQTT retained messages", developer guide,
    // retained-message-policy-examples.html); without it the publish is refused like any denied publish. "You
    // can't publish to a reserved topic with the RETAIN flag set" (mqtt.md#mqtt-retain); reserved topics start
    // with `$` (reserved-topics.html). A Will Message comes here too (aedes publishWill), so a retained will needs it.
    const retainRefused = packet.retain === true && (topic.startsWith('$') || !this.allowed(principal, 'iot:RetainPublish', `topic/${topic}`));
    if (reserved || retainRefused || !this.allowed(principal, 'iot:Publish', `topic/${topic}`)) {
      this.log.push({ event: 'publish-denied', detail: `${client.id} → ${topic}`, at: this.now() });
      if (client.version !== 5) this.lifecycle.closing(client, 'AUTH_ERROR');
      return done(new Error(`not authorized to publish to ${topic}`));
    }
    if (isFleetRequestTopic(topic)) void this.serveFleetRequest(client, principal, topic, payload);
    const jobsRequest = isJobsRequestTopic(topic);
    done(null);
    if (jobsRequest) this.serveJobsRequest(client, principal, topic, payload);
    // The rules' principal() and clientid(): the connection's certificate and client id (rules.ts).
    else if (!isFleetRequestTopic(topic)) this.options.onDevicePublish?.(principal.account, topic, payload, { principal: principal.certificateId, clientId: client.id });
  }

  /**
   * A message the service publishes in an account (iot-data Publish, Device Shadow answers): to that account's
   * connections whose subscriptions match, each still judged by iot:Receive (authorizeForward).
   */
  deliver(account: IotAccount, topic: string, payload: Buffer, qos: 0 | 1): void {
    // Each account has its own broker (none yet: no connection of the account to deliver to). One identity for
    // the message, whichever connections it reaches: a shared subscription's group picks one member per message.
    const broker = this.brokers.get(account.accountId);
    if (!broker) return;
    const message = { brokerId: 'service', brokerCounter: ++this.serviceMessages };
    for (const client of Object.values((broker.aedes as unknown as { clients: Record<string, Client> }).clients)) {
      if (client.closed || this.principals.get(client)?.account.accountId !== account.accountId) continue;
      const subscriptions = (client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions ?? {};
      const granted = Object.entries(subscriptions).filter(([filter]) => topicMatches(filter, topic));
      if (!granted.length) continue;
      const deliveredQos = Math.min(qos, Math.max(...granted.map(([, s]) => s.qos))) as 0 | 1;
      client.publish({ cmd: 'publish', topic, payload, qos: deliveredQos, retain: false, dup: false, ...message }, () => {});
    }
  }

  private authorizeSubscribe(client: Client, subscription: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const principal = this.principals.get(client);
    // A shared subscription is authorized as the filter the device sent: topicfilter/$share/<group>/<filter>
    // (the AWS IoT device SDKs' shared-subscription sample policies).
    const group = sharedGroupOf(subscription);
    const filter = group ? `$share/${group}/${subscription.topic}` : subscription.topic;
    if (principal && this.allowed(principal, 'iot:Subscribe', `topicfilter/${filter}`)) {
      this.brokerOf(principal.account.accountId).shared.join(client.id, subscription.topic, group);
      return done(null, subscription);
    }
    this.log.push({ event: 'subscribe-denied', detail: `${client.id} → ${filter}`, at: this.now() });
    // MQTT 3.1.1: subscriptions the policy does not allow "fail and cause the client to disconnect" (developer
    // guide, pub-sub-policy.html); AWS engineers: "IoT will drop the connection in the event of an unauthorized
    // subscription" (aws/aws-iot-device-sdk-js#191, 2018; also #125, 2017). No SUBACK: aedes closes a client
    // whose SUBSCRIBE fails. MQTT 5: SUBACK 0x87 "Not authorized" (aedes writes it for a null subscription), the
    // SUBACK code in AWS IoT Core's MQTT 5 reason-code table; whether AWS also disconnects is not measured.
    if (client.version !== 5) {
      this.lifecycle.closing(client, 'AUTH_ERROR');
      return done(new Error(`not authorized to subscribe to ${filter}`));
    }
    done(null, null);
  }

  private mayReceive(client: Client, packet: ForwardedPacket): boolean {
    // Requests of the fleet-provisioning and Jobs APIs are for the service only.
    if (isFleetRequestTopic(packet.topic) || isJobsRequestTopic(packet.topic)) return false;
    const principal = this.principals.get(client);
    if (!principal) return false;
    const groups = this.brokerOf(principal.account.accountId).shared.deliveringGroups(client, packet);
    if (!groups) return this.allowed(principal, 'iot:Receive', `topic/${packet.topic}`);
    // Through a shared subscription: iot:Receive on topic/$share/<group>/<topic>, as those sample policies grant.
    return groups.some((group) => this.allowed(principal, 'iot:Receive', `topic/$share/${group}/${packet.topic}`));
  }

  private async serveFleetRequest(client: Client, principal: Principal, topic: string, payload: Buffer): Promise<void> {
    const requester: Requester = {
      account: principal.account,
      certificateId: principal.certificateId,
      clientId: client.id,
      ...(principal.claim ? { claimTemplateName: principal.claim.templateName } : {}),
    };
    const reply =
      principal.claim && this.now() > principal.connectedAt + CLAIM_SESSION_MS
        ? { topic: `${topic}/rejected`, payload: { statusCode: 403, errorCode: 'AccessDenied', errorMessage: 'The claim session has expired.' } }
        : await this.fleet.handle(topic, payload, requester);
    if (!reply || client.closed) return;
    // Replies go to the requesting connection only, and only if it subscribed to them (aws-iot-reference §3.1).
    const subscribed = Object.keys((client as unknown as { subscriptions: Record<string, unknown> }).subscriptions ?? {}).some((filter) =>
      topicMatches(filter, reply.topic),
    );
    if (!subscribed) return;
    client.publish({ cmd: 'publish', topic: reply.topic, payload: Buffer.from(JSON.stringify(reply.payload)), qos: 0, retain: false, dup: false }, () => {});
  }

  /**
   * A Jobs API request: the answer goes to the requesting connection, subscribed or not ("the message broker will
   * publish response message topics to the client that published the command message, whether or not your
   * client has subscribed", developer guide jobs-mqtt-api.html), through authorizeForward, so iot:Receive on the
   * answer's topic still applies. client.publish queues after the PUBACK of the request.
   */
  private serveJobsRequest(client: Client, principal: Principal, topic: string, payload: Buffer): void {
    const reply = this.jobs.handle(principal.account, topic, payload);
    if (!reply || client.closed) return;
    client.publish({ cmd: 'publish', topic: reply.topic, payload: Buffer.from(JSON.stringify(reply.payload)), qos: 0, retain: false, dup: false }, () => {});
  }
}

/**
 * Two connected in-memory streams, as a socket's two ends: what one writes the other reads; ending or destroying
 * one ends the other. (Node 20 has no stream.duplexPair.)
 */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const end = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        const other = peer();
        if (!other.destroyed) other.push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        callback(error);
      },
    });
  ends.push(end(() => ends[1]!), end(() => ends[0]!));
  for (const stream of ends) Object.assign(stream, { remoteAddress: '127.0.0.1' });
  return [ends[0]!, ends[1]!];
}
