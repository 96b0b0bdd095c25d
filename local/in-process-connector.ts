import { MqttClient } from 'mqtt';
import { agentConnectionOf } from '../device/agent-connection';
import type { AgentConnection, Connector } from '../device/rotation-agent';
import type { MqttEndpoint } from './iot-core/mqtt-endpoint';

/**
 * The rotation agent's connector into the local broker without TLS (the bench's rotation wave): MQTT 5 over an
 * in-memory stream that `MqttEndpoint.connectInProcess` judges as the TLS layer would judge the device's chain.
 * Everything after the handshake is the broker's ordinary path — CONNECT decided by the device gateway
 * (status, JITR), iot:Connect / Publish / Subscribe / Receive checked against the certificate's policies, the
 * lifecycle connected event naming the certificate, Jobs and rule traffic — so a device decides and is judged as
 * over `mqttConnector` (device/agent-connection.ts), minus the handshake's CPU.
 */
export function inProcessConnector(endpoint: MqttEndpoint, options: { serverName?: string; timeoutMs?: number } = {}): Connector {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (identity, clientId): Promise<AgentConnection> => {
    const opened = endpoint.connectInProcess(identity.certificatePem, options.serverName);
    if ('reason' in opened) throw new Error(`connection refused: tls: ${opened.reason}`);
    const client = new MqttClient(() => opened.stream, { clientId, protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 0 });
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        client.removeListener('connect', onConnect);
        client.removeListener('error', onError);
        client.removeListener('close', onClose);
        // A later error (the broker dropping the connection) must not crash the process as an unhandled 'error'.
        client.on('error', () => {});
        if (error) {
          client.end(true);
          reject(error);
        } else resolve();
      };
      const onConnect = () => done();
      const onError = (error: Error) => done(new Error(`connection refused: ${error.message}`));
      const onClose = () => done(new Error('connection refused: connection closed'));
      client.once('connect', onConnect);
      client.once('error', onError);
      client.once('close', onClose);
    });
    return agentConnectionOf(client, timeoutMs);
  };
}
