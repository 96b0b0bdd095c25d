import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type Client, type Subscription } from 'aedes';
import { closeServer, listenOn } from '../net';
import type { HandshakeResult } from './device-gateway';
import { DeviceTls, type DeviceEndpointOptions } from './device-tls';
import type { FunctionInvoker } from '../lambda/async-lambda';
import { FleetProvisioning, isFleetRequestTopic, isFleetTopic, type Requester } from './fleet-provisioning';
import { evaluatePolicies, resolveConnectionThing, type IotAction, type PolicyContext } from './policy-evaluator';
import type { IotAccount } from './registry/account';
import type { ProvisioningClaim } from './registry/provisioning';
import { topicMatches } from './rules';
import { isServiceTopic } from './data-plane';

/**
 * The device-facing side of the local IoT Core: MQTT over mutual TLS (aedes), as AWS IoT runs it.
 *
 * - TLS: as `device-tls.ts` describes (the client certificate must chain to what the account trusts).
 * - CONNECT: the device gateway decides (JITR registration, status); then the certificate's policies must
 *   allow iot:Connect for the client id. Refusals answer CONNACK 5 (not authorized) and close.
 * - PUBLISH / SUBSCRIBE / delivery: iot:Publish, iot:Subscribe, iot:Receive, evaluated per message. An
 *   unauthorized publish closes the connection (MQTT 3.1.1 has no negative PUBACK); an unauthorized
 *   subscription gets SUBACK 0x80.
 * - The fleet-provisioning API topics are served here; replies go only to the requesting connection.
 * - Every other accepted publish also goes to `onDevicePublish` (data-plane.ts: topic rules, Device Shadow
 *   topics); `deliver` sends what the service publishes to the account's subscribers.
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

const notAuthorized = () => Object.assign(new Error('not authorized'), { returnCode: 5 as const });

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
}

export class MqttEndpoint {
  private readonly handshakes = new WeakMap<object, Extract<HandshakeResult, { ok: true }>>();
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly tls: DeviceTls;
  /**
   * One broker per account: topics, client ids, sessions and retained messages are an account's own on AWS
   * (a device's SNI picks the account; aws-iot-reference §2). Created on an account's first connection.
   */
  private readonly brokers = new Map<string, Promise<Aedes>>();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<TLSSocket>();
  readonly fleet: FleetProvisioning;
  /** Connection outcomes, newest last, for tests, the sandbox and `devices why` (GET /_local/connections). */
  readonly log: ConnectionLogEntry[] = [];
  port = 0;

  constructor(
    private readonly options: DeviceEndpointOptions & {
      invoke: FunctionInvoker;
      /** Where an accepted device publish goes besides the broker's subscribers: the rules, the Device Shadow service (data-plane.ts). */
      onDevicePublish?: (account: IotAccount, topic: string, payload: Buffer) => void;
    },
  ) {
    this.fleet = new FleetProvisioning(options.registry, options.issuer, options.invoke, options.now);
    this.tls = new DeviceTls(options.registry, options.issuer, options.tls);
  }

  private brokerOf(accountId: string): Promise<Aedes> {
    let broker = this.brokers.get(accountId);
    if (!broker) {
      const aedes = new Aedes({
        heartbeatInterval: 3_600_000,
        authenticate: (client, _u, _p, done) => this.authenticate(client, done),
        authorizePublish: (client, packet, done) => this.authorizePublish(client, packet.topic, packet.payload as Buffer, done),
        authorizeSubscribe: (client, subscription, done) => this.authorizeSubscribe(client, subscription, done),
        authorizeForward: (client, packet) => (this.mayReceive(client, packet.topic) ? packet : null),
      });
      broker = aedes.listen().then(() => aedes);
      this.brokers.set(accountId, broker);
    }
    return broker;
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
    const closed = Promise.all(this.servers.map((server) => closeServer(server)));
    for (const socket of this.sockets) socket.destroy();
    const brokers = await Promise.all(this.brokers.values());
    await Promise.all(brokers.map((broker) => new Promise<void>((resolve) => broker.close(() => resolve()))));
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
    // The socket holds what the device sends until the broker reads it.
    void this.brokerOf(handshake.account.accountId).then((broker) => {
      if (!socket.destroyed) broker.handle(socket);
    });
  }

  private policyDocuments(principal: Principal): string[] {
    if (principal.claim) return [claimPolicy(principal.account, principal.claim.templateName)];
    const certificate = principal.account.certificates.find(principal.certificateId);
    return certificate ? principal.account.policies.documentsFor(certificate.certificateArn) : [];
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
      return done(notAuthorized(), false);
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
      return done(notAuthorized(), false);
    }
    this.principals.set(client, principal);
    this.log.push({ event: 'connected', detail: client.id, at: this.now(), clientId: client.id, certificateId: result.certificateId, accountId: result.account.accountId });
    done(null, true);
  }

  private authorizePublish(client: Client | null, topic: string, payload: Buffer, done: (error?: Error | null) => void): void {
    const principal = client ? this.principals.get(client) : undefined;
    if (!client || !principal) return done(new Error('not authorized'));
    // Reserved topics: the service publishes replies and events there, devices may not.
    const reserved = (isFleetTopic(topic) && !isFleetRequestTopic(topic)) || isServiceTopic(topic);
    if (reserved || !this.allowed(principal, 'iot:Publish', `topic/${topic}`)) {
      this.log.push({ event: 'publish-denied', detail: `${client.id} → ${topic}`, at: this.now() });
      return done(new Error(`not authorized to publish to ${topic}`));
    }
    if (isFleetRequestTopic(topic)) void this.serveFleetRequest(client, principal, topic, Buffer.from(payload ?? []));
    done(null);
    if (!isFleetRequestTopic(topic)) this.options.onDevicePublish?.(principal.account, topic, Buffer.from(payload ?? []));
  }

  /**
   * A message the service publishes in an account (iot-data Publish, Device Shadow answers): to that account's
   * connections whose subscriptions match, each still judged by iot:Receive (authorizeForward).
   */
  deliver(account: IotAccount, topic: string, payload: Buffer, qos: 0 | 1): void {
    // Each account has its own broker (no broker yet: no connection of the account to deliver to).
    void this.brokers.get(account.accountId)?.then((broker) => {
      for (const client of Object.values((broker as unknown as { clients: Record<string, Client> }).clients)) {
        if (client.closed || this.principals.get(client)?.account.accountId !== account.accountId) continue;
        const subscriptions = (client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions ?? {};
        const granted = Object.entries(subscriptions).filter(([filter]) => topicMatches(filter, topic));
        if (!granted.length) continue;
        const deliveredQos = Math.min(qos, Math.max(...granted.map(([, s]) => s.qos))) as 0 | 1;
        client.publish({ cmd: 'publish', topic, payload, qos: deliveredQos, retain: false, dup: false }, () => {});
      }
    });
  }

  private authorizeSubscribe(client: Client, subscription: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const principal = this.principals.get(client);
    if (principal && this.allowed(principal, 'iot:Subscribe', `topicfilter/${subscription.topic}`)) return done(null, subscription);
    this.log.push({ event: 'subscribe-denied', detail: `${client.id} → ${subscription.topic}`, at: this.now() });
    done(null, null);
  }

  private mayReceive(client: Client, topic: string): boolean {
    // Requests of the fleet-provisioning API are for the service only.
    if (isFleetRequestTopic(topic)) return false;
    const principal = this.principals.get(client);
    return principal !== undefined && this.allowed(principal, 'iot:Receive', `topic/${topic}`);
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
}
