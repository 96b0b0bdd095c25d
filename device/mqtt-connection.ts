import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * What device firmware does on the wire, over MQTT with mutual TLS (MQTT.js): one connection attempt, a
 * connect loop with exponential back-off and jitter for just-in-time registration, and a QoS 1 publish.
 * Used by the operator CLI (`device connect`) against AWS or the local IoT Core, and by the sandbox's
 * device simulators. Nothing here talks to the control plane.
 */

export interface Endpoint {
  host: string;
  port: number;
  /**
   * The CA that signed the server certificate: Amazon Root CA 1 on AWS, the local root CA here. Without
   * it, Node's built-in roots are used (they include Amazon Root CA 1).
   */
  caPem?: string;
  /** TLS SNI; defaults to `host`. AWS routes SNI_ONLY certificates by it (aws-iot-reference §2). */
  servername?: string;
  /** The MQTT version the device speaks; AWS IoT Core serves both (developer guide, "MQTT"). Default 5. */
  mqtt?: MqttVersion;
}

/** MQTT 5 (protocol level 5), as AWS's current device SDK samples connect, or MQTT 3.1.1 (level 4). */
export type MqttVersion = '5' | '3.1.1';
export const MQTT_VERSIONS: readonly MqttVersion[] = ['5', '3.1.1'];

const PROTOCOL_LEVEL: Record<MqttVersion, 4 | 5> = { '5': 5, '3.1.1': 4 };

export interface Identity {
  /** Device certificate, optionally followed by its CA (the seeds' `deviceCertAndCA.crt`). */
  certificatePem: string;
  privateKeyPem: string;
}

/** MQTT.js options for one connection of `identity` to `endpoint` (mutual TLS, SNI, no automatic reconnect). */
export function connectionOptions(endpoint: Endpoint, identity: Identity, clientId: string, timeoutMs = 5_000): IClientOptions {
  return {
    protocol: 'mqtts',
    host: endpoint.host,
    port: endpoint.port,
    servername: endpoint.servername ?? endpoint.host,
    ...(endpoint.caPem ? { ca: endpoint.caPem } : {}),
    cert: identity.certificatePem,
    key: identity.privateKeyPem,
    clientId,
    protocolVersion: PROTOCOL_LEVEL[endpoint.mqtt ?? '5'],
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  };
}

export function connectOnce(
  endpoint: Endpoint,
  identity: Identity,
  clientId: string,
  timeoutMs = 5_000,
): Promise<{ client?: MqttClient; error?: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect({ ...connectionOptions(endpoint, identity, clientId, timeoutMs), clean: true });
    const onConnect = () => done({ client });
    const onError = (error: Error) => done({ error: error.message });
    const onClose = () => done({ error: 'connection closed' });
    const done = (result: { client?: MqttClient; error?: string }) => {
      // Only our listeners: MQTT.js keeps its own on the client (its 'close' handler stops the keep-alive timer).
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      // A later error (the broker dropping the connection) must not crash the process as an unhandled 'error'.
      client.on('error', () => {});
      if (result.error) client.end(true);
      resolve(result);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}

export interface BackoffSettings {
  /** Delay before the second attempt; each later one doubles, up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Exponential back-off with "equal jitter": half the doubled delay, plus a random share of the other half,
 * so that a fleet powered on together does not reconnect in lockstep. `random() = 1` gives the plain
 * doubling.
 */
export function backoffDelay(attempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface RefusedAttempt {
  attempt: number;
  error: string;
  /** How long the loop waits before the next attempt; undefined when this was the last. */
  nextDelayMs?: number;
}

export interface ConnectLoopResult {
  client?: MqttClient;
  attempts: number;
  errors: string[];
  /** Why the loop gave up: out of attempts or time, or told to stop (e.g. the certificate was revoked). */
  gaveUp?: { reason: 'attempts' | 'deadline' | 'stopped'; detail?: string };
}

/**
 * Connects as a JITR device does: AWS IoT registers an unknown certificate of a registered CA as
 * PENDING_ACTIVATION and drops the connection (aws-iot-reference §1.2); the device retries with back-off
 * until something activates the certificate, or until its deadline.
 */
export async function connectWithBackoff(options: {
  endpoint: Endpoint;
  identity: Identity;
  clientId: string;
  maxAttempts?: number;
  /** Epoch milliseconds after which no new attempt starts. */
  deadline?: number;
  backoff?: Partial<BackoffSettings>;
  random?: () => number;
  connectTimeoutMs?: number;
  /** After a refused attempt that will be followed by another one; `{ stop }` ends the loop. */
  afterRefusal?: (refused: RefusedAttempt) => Promise<void | { stop: string }> | void | { stop: string };
  sleep?: (ms: number) => Promise<void>;
}): Promise<ConnectLoopResult> {
  const settings: BackoffSettings = { initialDelayMs: 500, maxDelayMs: 8_000, ...options.backoff };
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const errors: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    const timeout = Math.max(1_000, Math.min(options.connectTimeoutMs ?? 10_000, remaining));
    const { client, error } = await connectOnce(options.endpoint, options.identity, options.clientId, timeout);
    if (client) return { client, attempts: attempt, errors };
    errors.push(error ?? 'refused');
    if (attempt >= maxAttempts) return { attempts: attempt, errors, gaveUp: { reason: 'attempts' } };
    if (Date.now() >= deadline) return { attempts: attempt, errors, gaveUp: { reason: 'deadline' } };
    const delay = Math.min(backoffDelay(attempt, settings, options.random), Math.max(0, deadline - Date.now()));
    const verdict = await options.afterRefusal?.({ attempt, error: error ?? 'refused', nextDelayMs: delay });
    if (verdict && 'stop' in verdict) return { attempts: attempt, errors, gaveUp: { reason: 'stopped', detail: verdict.stop } };
    await sleep(delay);
  }
}

/**
 * Publishes with QoS 1 and resolves once the broker acknowledged it (PUBACK). On a publish the device's
 * policy does not allow, AWS IoT closes an MQTT 3.1.1 connection and answers MQTT 5 with PUBACK 0x87 (not
 * authorized); both reject here instead of hanging.
 */
export function publishAcknowledged(client: MqttClient, topic: string, payload: string | Buffer, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      client.removeListener('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => finish(new Error(`the broker closed the connection instead of acknowledging the publish to ${topic} (not allowed by the device's policy?)`));
    // MQTT.js passes a PUBACK reason code of 0x80 or more as an error ("Publish error: Not authorized").
    const timer = setTimeout(() => finish(new Error(`no PUBACK for ${topic} within ${timeoutMs} ms`)), timeoutMs);
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (error) => finish(error ?? undefined));
  });
}

/**
 * Disconnects cleanly (DISCONNECT, after in-flight messages) when the connection is up, within a bound;
 * a connection the broker already closed is just torn down — MQTT.js's graceful end would wait forever
 * for acknowledgements that cannot come.
 */
export async function disconnect(client: MqttClient, timeoutMs = 2_000): Promise<void> {
  if (client.connected) {
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      client.endAsync().then(() => true, () => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (ended) return;
  }
  client.end(true);
}
