import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iot, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';

/**
 * AWS's own device SDK (aws-iot-device-sdk-v2, on the native aws-crt) pointed at the local IoT Core, built the
 * way AWS's samples build it (aws/aws-iot-device-sdk-js-v2, samples/node/…):
 * - MQTT 5: `AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(endpoint, cert, key)`,
 *   `withCertificateAuthorityFromPath(undefined, ca_file)`, `withConnectProperties({ clientId, keepAliveIntervalSeconds: 1200 })`,
 *   then `new mqtt5.Mqtt5Client(config)` (samples/node/mqtt/mqtt5_x509, service_clients/fleet_provisioning);
 * - MQTT 3.1.1: `AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(cert, key)`,
 *   `with_certificate_authority_from_path(undefined, ca_file)`, `with_clean_session`, `with_client_id`,
 *   `with_endpoint`, then `new mqtt.MqttClient().new_connection(config)` (the MQTT 3.1.1 pub_sub sample and
 *   samples/util/cli_args.js before the samples moved to MQTT 5).
 * The one addition is the port: the samples use the SDK's default (8883), the local IoT Core listens where
 * it was given a free one (`with_port` / `withPort`).
 *
 * The certificate and key go to files, as the samples read them, in a private temporary folder that
 * `close()` removes. aws-crt's connections hold native resources: `close()` stops and frees every client made
 * here. An MQTT 3.1.1 connection lets go of its native handles on disconnect; an MQTT 5 client only when its
 * closed wrapper is garbage-collected (aws-crt source/mqtt5_client.c: close() drops the references, the
 * finalizer releases the client and its thread-safe callbacks; awslabs/aws-crt-nodejs#600), so a process that
 * used one may linger some seconds after its last test — jest.config.js's forceExit ends it.
 */

export interface SdkEndpoint {
  /** The data endpoint's name: the TLS server name (SNI) and the host the SDK resolves. */
  host: string;
  port: number;
  /** The local root CA that signed the endpoint's server certificate (`endpoints.rootCaFile`). */
  rootCaFile: string;
}

export interface SdkIdentity {
  /** The device certificate, optionally followed by its CA (JITR sends the chain). */
  certificatePem: string;
  privateKeyPem: string;
}

export class DeviceSdk {
  private readonly folder = mkdtempSync(join(tmpdir(), 'device-sdk-v2-'));
  private readonly connections = new Set<mqtt.MqttClientConnection>();
  private readonly clients = new Set<mqtt5.Mqtt5Client>();
  private files = 0;

  constructor(private readonly endpoint: SdkEndpoint) {}

  /** An MQTT 3.1.1 connection, not yet connected (`connect()` is the caller's, as in the sample). */
  mqtt311(identity: SdkIdentity, clientId: string, options: { cleanSession?: boolean } = {}): mqtt.MqttClientConnection {
    const { certPath, keyPath } = this.write(identity);
    const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(certPath, keyPath);
    builder.with_certificate_authority_from_path(undefined, this.endpoint.rootCaFile);
    builder.with_clean_session(options.cleanSession ?? true);
    builder.with_client_id(clientId);
    builder.with_endpoint(this.endpoint.host);
    builder.with_port(this.endpoint.port);
    const connection = new mqtt.MqttClient().new_connection(builder.build());
    this.connections.add(connection);
    return connection;
  }

  /** An MQTT 5 client, not yet started (`start()` is the caller's, as in the sample). */
  mqtt5(
    identity: SdkIdentity,
    clientId: string,
    options: {
      /** The client's reconnect back-off (the SDK's defaults: 1 s doubling up to 120 s, with jitter). */
      reconnectDelayMs?: { min: number; max: number };
      /** A persistent session kept this long after a disconnect, rejoined on every connect. */
      sessionExpirySeconds?: number;
      /** The client's own outbound topic aliases (off by default in the SDK). */
      topicAliasing?: mqtt5.TopicAliasingOptions;
    } = {},
  ): mqtt5.Mqtt5Client {
    const { certPath, keyPath } = this.write(identity);
    const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(this.endpoint.host, certPath, keyPath);
    builder.withCertificateAuthorityFromPath(undefined, this.endpoint.rootCaFile);
    builder.withPort(this.endpoint.port);
    builder.withConnectProperties({
      clientId,
      keepAliveIntervalSeconds: 1200,
      ...(options.sessionExpirySeconds !== undefined ? { sessionExpiryIntervalSeconds: options.sessionExpirySeconds } : {}),
    });
    if (options.sessionExpirySeconds !== undefined) builder.withSessionBehavior(mqtt5.ClientSessionBehavior.RejoinAlways);
    if (options.reconnectDelayMs) builder.withMinReconnectDelayMs(options.reconnectDelayMs.min).withMaxReconnectDelayMs(options.reconnectDelayMs.max);
    if (options.topicAliasing) builder.withTopicAliasingOptions(options.topicAliasing);
    const client = new mqtt5.Mqtt5Client(builder.build());
    // Failed operations also surface as 'error' events; without a listener Node would throw them.
    client.on('error', () => {});
    this.clients.add(client);
    return client;
  }

  /** Stops an MQTT 5 client (DISCONNECT, then the 'stopped' event) and frees it. */
  async stop(client: mqtt5.Mqtt5Client): Promise<void> {
    if (!this.clients.delete(client)) return;
    const stopped = once(client, 'stopped');
    client.stop();
    try {
      await withTimeout(stopped, 5_000, 'the MQTT 5 client did not stop');
    } finally {
      client.close();
    }
  }

  /** Disconnects an MQTT 3.1.1 connection, which frees its native resources. */
  async disconnect(connection: mqtt.MqttClientConnection): Promise<void> {
    if (!this.connections.delete(connection)) return;
    await withTimeout(connection.disconnect(), 5_000, 'the MQTT 3.1.1 connection did not disconnect').catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients].map((client) => this.stop(client).catch(() => {})));
    await Promise.all([...this.connections].map((connection) => this.disconnect(connection)));
    rmSync(this.folder, { recursive: true, force: true });
  }

  private write(identity: SdkIdentity): { certPath: string; keyPath: string } {
    const n = ++this.files;
    const certPath = join(this.folder, `device-${n}.pem.crt`);
    const keyPath = join(this.folder, `device-${n}.pem.key`);
    writeFileSync(certPath, identity.certificatePem);
    writeFileSync(keyPath, identity.privateKeyPem, { mode: 0o600 });
    return { certPath, keyPath };
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts an MQTT 5 client as AWS's sample does and waits for its first connectionSuccess (a failure throws). */
export async function started(client: mqtt5.Mqtt5Client): Promise<mqtt5.ConnectionSuccessEvent> {
  const success = once(client, 'connectionSuccess') as Promise<[mqtt5.ConnectionSuccessEvent]>;
  const failure = once(client, 'connectionFailure') as Promise<[mqtt5.ConnectionFailureEvent]>;
  client.start();
  const outcome = await withTimeout(Promise.race([success.then(([event]) => event), failure.then(([event]) => event)]), 10_000, 'no connection outcome');
  if ('error' in outcome) throw new Error(`connection failed: ${outcome.error.toString()} (CONNACK ${outcome.connack?.reasonCode})`);
  return outcome;
}
