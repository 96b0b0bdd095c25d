import { provisionByClaim } from '../../device/fleet-provisioning';
import { connectOnce as deviceConnectOnce, connectWithBackoff, disconnect, publishAcknowledged, type Endpoint, type Identity } from '../../device/mqtt-connection';
import { createCsr, deviceChain, type KeyedCertificate } from '../../lib/pki';

/**
 * Device simulators for the sandbox and tests, on the device-side code the operator CLI uses too
 * (device/): real MQTT over mutual TLS (MQTT.js), as firmware does:
 * - a JITR device: connects, is dropped while its certificate is pending, backs off, reconnects, and
 *   publishes telemetry to its own topic once it is let in (seeds 000/001);
 * - a fleet device: connects with a claim certificate, gets a certificate (create-from-csr or create),
 *   provisions itself with RegisterThing, then reconnects with its new identity and publishes (seed 004).
 */

export type { Endpoint, Identity };

/**
 * The simulators speak MQTT 3.1.1 unless the endpoint names a version (device/ and the CLI default to MQTT 5):
 * the sandbox's rows and the suites written before MQTT 5 stay 3.1.1 runs; a row or test asks for 5.
 */
const simulated = (endpoint: Endpoint): Endpoint => ({ mqtt: '3.1.1', ...endpoint });

export const connectOnce = (endpoint: Endpoint, identity: Identity, clientId: string, timeoutMs?: number) =>
  deviceConnectOnce(simulated(endpoint), identity, clientId, timeoutMs);

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
  const backoffMs = options.backoffMs ?? 200;
  const result = await connectWithBackoff({
    endpoint: simulated(options.endpoint),
    identity: options.identity,
    clientId: options.clientId,
    maxAttempts: options.maxAttempts ?? 5,
    connectTimeoutMs: 5_000,
    // No jitter: the sandbox's runs are reproducible (random() = 1 gives plain doubling).
    backoff: { initialDelayMs: backoffMs, maxDelayMs: Number.POSITIVE_INFINITY },
    random: () => 1,
    afterRefusal: async () => {
      await options.betweenAttempts?.();
    },
  });
  if (!result.client) return { connected: false, attempts: result.attempts, published: false, errors: result.errors };
  const published = await publishAcknowledged(result.client, `device/${options.clientId}/telemetry`, JSON.stringify({ temperature: 21.5, at: Date.now() })).then(
    () => true,
    () => false,
  );
  await disconnect(result.client);
  return { connected: true, attempts: result.attempts, published, errors: result.errors };
}

export type FleetDeviceResult =
  | { outcome: 'provisioned'; thingName: string; certificateId: string; identity: Identity; connected: boolean; published: boolean }
  | { outcome: 'refused'; step: 'connect' | 'create' | 'provision'; errorCode: string; errorMessage: string };

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
  try {
    const csr = (options.api ?? 'create-from-csr') === 'create-from-csr' ? await createCsr({ commonName: options.serialNumber }, 'ec-p256') : undefined;
    const result = await provisionByClaim(client, {
      templateName: options.templateName,
      parameters: { SerialNumber: options.serialNumber },
      ...(csr ? { csrPem: csr.csrPem } : {}),
    });
    if (result.outcome === 'refused') {
      return { outcome: 'refused', step: result.step, errorCode: result.errorCode, errorMessage: result.errorMessage };
    }
    const identity: Identity = { certificatePem: result.certificatePem, privateKeyPem: csr?.privateKeyPem ?? result.privateKeyPem ?? '' };
    await disconnect(client);
    // After saving the new certificate the device reconnects with it (aws-iot-reference §3.1).
    const device = await runJitrDevice({ endpoint: options.endpoint, identity, clientId: result.thingName, maxAttempts: 1 });
    return { outcome: 'provisioned', thingName: result.thingName, certificateId: result.certificateId, identity, connected: device.connected, published: device.published };
  } finally {
    if (!client.disconnected) client.end(true);
  }
}

/**
 * A device of the sandbox's CA connecting the way seed 001's devices do (device certificate + CA), with the
 * JITR back-off; between attempts the local IoT Core runs what the connect set off (the handler), and once
 * more after the last one.
 */
export async function connectJitr(
  ctx: { endpoint: Endpoint; core: { idle(): Promise<void> } },
  device: KeyedCertificate,
  ca: KeyedCertificate,
  clientId: string,
  maxAttempts: number,
): Promise<JitrDeviceResult> {
  const result = await runJitrDevice({
    endpoint: ctx.endpoint,
    identity: { certificatePem: deviceChain(device, ca), privateKeyPem: device.privateKeyPem },
    clientId,
    maxAttempts,
    backoffMs: 100,
    betweenAttempts: () => ctx.core.idle(),
  });
  await ctx.core.idle();
  return result;
}
