import type { MqttClient } from 'mqtt';

/**
 * Fleet provisioning by claim over MQTT, as a device does it (aws-iot-reference §3, seed 004): on a
 * connection made with the claim certificate, get a certificate — CreateCertificateFromCsr (the key never
 * leaves the device) or CreateKeysAndCertificate (AWS generates the key) — then RegisterThing with the
 * template's parameters. The caller saves the new certificate and reconnects with it.
 */

export interface FleetReply {
  accepted: boolean;
  body: Record<string, unknown>;
}

/** Publishes one request of the fleet-provisioning API and waits for its accepted or rejected reply. */
export async function requestReply(client: MqttClient, topic: string, payload: unknown, timeoutMs = 10_000): Promise<FleetReply> {
  try {
    await client.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  } catch {
    // The broker refused the subscription (MQTT 5: SUBACK 0x87; MQTT 3.1.1: it closes the connection, as AWS
    // does): the certificate's policy does not cover the topic.
    return { accepted: false, body: { errorCode: 'SubscriptionRefused', errorMessage: `not authorized to subscribe to ${topic}/+` } };
  }
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      client.removeListener('message', onMessage);
      client.removeListener('close', onClose);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no reply on ${topic}/accepted or /rejected within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (replyTopic: string, message: Buffer) => {
      if (replyTopic !== `${topic}/accepted` && replyTopic !== `${topic}/rejected`) return;
      cleanup();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(message.toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { errorCode: 'UnreadableReply', errorMessage: 'the reply is not JSON' };
      }
      resolve({ accepted: replyTopic.endsWith('/accepted'), body });
    };
    const onClose = () => {
      cleanup();
      resolve({ accepted: false, body: { errorCode: 'ConnectionClosed', errorMessage: `the broker closed the connection after the request to ${topic} (not allowed by the claim's policy?)` } });
    };
    client.on('message', onMessage);
    client.once('close', onClose);
    client.publish(topic, JSON.stringify(payload), { qos: 1 });
  });
}

export type ProvisionOutcome =
  | {
      outcome: 'provisioned';
      thingName: string;
      certificateId: string;
      certificatePem: string;
      /** Only with CreateKeysAndCertificate: the key AWS generated (returned once). */
      privateKeyPem?: string;
      deviceConfiguration: Record<string, unknown>;
    }
  | { outcome: 'refused'; step: 'create' | 'provision'; errorCode: string; errorMessage: string; statusCode?: number };

export async function provisionByClaim(
  client: MqttClient,
  request: {
    templateName: string;
    parameters: Record<string, string>;
    /** A PEM CSR: CreateCertificateFromCsr. Without: CreateKeysAndCertificate. */
    csrPem?: string;
    timeoutMs?: number;
  },
): Promise<ProvisionOutcome> {
  const created = request.csrPem
    ? await requestReply(client, '$aws/certificates/create-from-csr/json', { certificateSigningRequest: request.csrPem }, request.timeoutMs)
    : await requestReply(client, '$aws/certificates/create/json', {}, request.timeoutMs);
  if (!created.accepted) return refused('create', created.body);
  const certificatePem = String(created.body.certificatePem);
  const certificateId = String(created.body.certificateId);
  const privateKeyPem = typeof created.body.privateKey === 'string' ? created.body.privateKey : undefined;

  const registered = await requestReply(
    client,
    `$aws/provisioning-templates/${request.templateName}/provision/json`,
    { certificateOwnershipToken: String(created.body.certificateOwnershipToken), parameters: request.parameters },
    request.timeoutMs,
  );
  if (!registered.accepted) return refused('provision', registered.body);
  return {
    outcome: 'provisioned',
    thingName: String(registered.body.thingName),
    certificateId,
    certificatePem,
    ...(privateKeyPem ? { privateKeyPem } : {}),
    deviceConfiguration: (registered.body.deviceConfiguration as Record<string, unknown> | undefined) ?? {},
  };
}

function refused(step: 'create' | 'provision', body: Record<string, unknown>): ProvisionOutcome {
  return {
    outcome: 'refused',
    step,
    errorCode: String(body.errorCode ?? 'Unknown'),
    errorMessage: String(body.errorMessage ?? ''),
    ...(typeof body.statusCode === 'number' ? { statusCode: body.statusCode } : {}),
  };
}
