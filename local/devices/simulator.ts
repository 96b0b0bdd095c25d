import mqtt, { type MqttClient } from 'mqtt';
import { createCsr } from '../pki';

/**
 * Device simulators speaking real MQTT over mutual TLS (MQTT.js), as firmware does:
 * - a JITR device: connects, is dropped while its certificate is pending, backs off, reconnects, and
 *   publishes telemetry to its own topic once it is let in (seeds 000/001);
 * - a fleet device: connects with a claim certificate, gets a certificate (create-from-csr or create),
 *   provisions itself with RegisterThing, then reconnects with its new identity and publishes (seed 004).
 */

export interface Endpoint {
  host: string;
  port: number;
  /** The CA that signed the server certificate (Amazon Root CA 1 on AWS; the local root CA here). */
  caPem: string;
  /** TLS SNI; defaults to `host` (AWS routes SNI_ONLY certificates by it). */
  servername?: string;
}

export interface Identity {
  /** Device certificate, optionally followed by its CA (the seeds' `deviceAndCA.crt`). */
  certificatePem: string;
  privateKeyPem: string;
}

export function connectOnce(endpoint: Endpoint, identity: Identity, clientId: string, timeoutMs = 5_000): Promise<{ client?: MqttClient; error?: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect({
      protocol: 'mqtts',
      host: endpoint.host,
      port: endpoint.port,
      servername: endpoint.servername ?? endpoint.host,
      ca: endpoint.caPem,
      cert: identity.certificatePem,
      key: identity.privateKeyPem,
      clientId,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      clean: true,
    });
    const done = (result: { client?: MqttClient; error?: string }) => {
      client.removeAllListeners();
      client.on('error', () => {});
      if (result.error) client.end(true);
      resolve(result);
    };
    client.once('connect', () => done({ client }));
    client.once('error', (error) => done({ error: error.message }));
    client.once('close', () => done({ error: 'connection closed' }));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface JitrDeviceResult {
  connected: boolean;
  attempts: number;
  published: boolean;
  errors: string[];
}

/** A JITR device's life: try, back off while pending, connect, publish telemetry to device/<id>/telemetry. */
export async function runJitrDevice(options: {
  endpoint: Endpoint;
  identity: Identity;
  clientId: string;
  maxAttempts?: number;
  backoffMs?: number;
  /** Called after a refused attempt (the sandbox waits for the handler here). */
  betweenAttempts?: () => Promise<void>;
}): Promise<JitrDeviceResult> {
  const errors: string[] = [];
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { client, error } = await connectOnce(options.endpoint, options.identity, options.clientId);
    if (client) {
      const published = await new Promise<boolean>((resolve) =>
        client.publish(`device/${options.clientId}/telemetry`, JSON.stringify({ temperature: 21.5, at: Date.now() }), { qos: 1 }, (e) => resolve(!e)),
      );
      await client.endAsync();
      return { connected: true, attempts: attempt, published, errors };
    }
    errors.push(error ?? 'refused');
    if (attempt < maxAttempts) {
      await options.betweenAttempts?.();
      await sleep((options.backoffMs ?? 200) * 2 ** (attempt - 1));
    }
  }
  return { connected: false, attempts: maxAttempts, published: false, errors };
}

export type FleetDeviceResult =
  | { outcome: 'provisioned'; thingName: string; certificateId: string; identity: Identity; connected: boolean; published: boolean }
  | { outcome: 'refused'; step: 'connect' | 'create' | 'provision'; errorCode: string; errorMessage: string };

/** Publishes one request of the fleet-provisioning API and waits for its accepted or rejected reply. */
async function request(client: MqttClient, topic: string, payload: unknown, timeoutMs = 10_000): Promise<{ accepted: boolean; body: Record<string, unknown> }> {
  try {
    await client.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  } catch {
    // The broker refused the subscription (SUBACK 0x80): the certificate's policy does not cover the topic.
    return { accepted: false, body: { errorCode: 'SubscriptionRefused', errorMessage: `not authorized to subscribe to ${topic}/+` } };
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('message', onMessage);
      reject(new Error(`no reply on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (replyTopic: string, message: Buffer) => {
      if (replyTopic !== `${topic}/accepted` && replyTopic !== `${topic}/rejected`) return;
      clearTimeout(timer);
      client.removeListener('message', onMessage);
      resolve({ accepted: replyTopic.endsWith('/accepted'), body: JSON.parse(message.toString('utf8')) as Record<string, unknown> });
    };
    client.on('message', onMessage);
    client.publish(topic, JSON.stringify(payload), { qos: 1 });
  });
}

/** A fleet device's life: claim → certificate → RegisterThing → reconnect as the thing → publish. */
export async function runFleetDevice(options: {
  endpoint: Endpoint;
  claim: Identity;
  templateName: string;
  serialNumber: string;
  /** create-from-csr keeps the private key on the device; create has AWS generate it. */
  api?: 'create-from-csr' | 'create';
  clientId?: string;
}): Promise<FleetDeviceResult> {
  const { client, error } = await connectOnce(options.endpoint, options.claim, options.clientId ?? `claim-${options.serialNumber}`);
  if (!client) return { outcome: 'refused', step: 'connect', errorCode: 'ConnectionRefused', errorMessage: error ?? 'refused' };
  let identity: Identity;
  let certificateId: string;
  let token: string;
  try {
    if ((options.api ?? 'create-from-csr') === 'create-from-csr') {
      const csr = await createCsr({ commonName: options.serialNumber }, 'ec-p256');
      const reply = await request(client, '$aws/certificates/create-from-csr/json', { certificateSigningRequest: csr.csrPem });
      if (!reply.accepted) return refused('create', reply.body);
      identity = { certificatePem: String(reply.body.certificatePem), privateKeyPem: csr.privateKeyPem };
      certificateId = String(reply.body.certificateId);
      token = String(reply.body.certificateOwnershipToken);
    } else {
      const reply = await request(client, '$aws/certificates/create/json', {});
      if (!reply.accepted) return refused('create', reply.body);
      identity = { certificatePem: String(reply.body.certificatePem), privateKeyPem: String(reply.body.privateKey) };
      certificateId = String(reply.body.certificateId);
      token = String(reply.body.certificateOwnershipToken);
    }
    const registered = await request(client, `$aws/provisioning-templates/${options.templateName}/provision/json`, {
      certificateOwnershipToken: token,
      parameters: { SerialNumber: options.serialNumber },
    });
    if (!registered.accepted) return refused('provision', registered.body);
    const thingName = String(registered.body.thingName);
    await client.endAsync();
    // After saving the new certificate the device reconnects with it (aws-iot-reference §3.1).
    const device = await runJitrDevice({ endpoint: options.endpoint, identity, clientId: thingName, maxAttempts: 1 });
    return { outcome: 'provisioned', thingName, certificateId, identity, connected: device.connected, published: device.published };
  } finally {
    if (!client.disconnected) client.end(true);
  }
}

function refused(step: 'create' | 'provision', body: Record<string, unknown>): FleetDeviceResult {
  return { outcome: 'refused', step, errorCode: String(body.errorCode ?? 'Unknown'), errorMessage: String(body.errorMessage ?? '') };
}
