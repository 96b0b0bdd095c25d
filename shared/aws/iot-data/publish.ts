import { PublishCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/** iot-data Publish (the message broker over HTTPS): one function per call. */

/** A JSON message, QoS 1, to the topic's subscribers (and rules); the caller's role needs iot:Publish on `topic/<topic>`. */
export async function publishJson(client: IoTDataPlaneClient, topic: string, message: unknown): Promise<void> {
  await client.send(new PublishCommand({ topic, qos: 1, payload: new TextEncoder().encode(JSON.stringify(message)) }));
}
