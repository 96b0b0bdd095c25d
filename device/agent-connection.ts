import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, publishAcknowledged, type Endpoint } from './mqtt-connection';
import type { AgentConnection, Connector } from './rotation-agent';

/**
 * The rotation agent's connection over MQTT.js with mutual TLS (mqtt-connection.ts): one attempt per call, the
 * agent decides what to retry. QoS 1 both ways, as the Jobs MQTT API samples use it.
 */
export function mqttConnector(endpoint: Endpoint, timeoutMs = 10_000): Connector {
  return async (identity, clientId): Promise<AgentConnection> => {
    const { client, error } = await connectOnce(endpoint, identity, clientId, timeoutMs);
    if (!client) throw new Error(`connection refused: ${error}`);
    return agentConnectionOf(client, timeoutMs);
  };
}

/** The agent's view of a connected MQTT.js client, whatever carries it (TLS here, an in-process stream in the bench). */
export function agentConnectionOf(client: MqttClient, timeoutMs = 10_000): AgentConnection {
  return {
    publish: (topic, payload) => publishAcknowledged(client, topic, payload, timeoutMs),
    subscribe: async (filters) => {
      const granted = await client.subscribeAsync(filters, { qos: 1 });
      // MQTT 5 SUBACK 0x80 and above: refused by the policy (the broker closes a 3.1.1 connection instead).
      const refused = granted.filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (refused.length) throw new Error(`subscription refused: ${refused.join(', ')}`);
    },
    onMessage: (handler) => client.on('message', (topic, payload) => handler(topic, payload)),
    onClose: (handler) => client.once('close', handler),
    close: () => disconnect(client),
  };
}
