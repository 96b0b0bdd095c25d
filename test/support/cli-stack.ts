import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachPolicyCommand, CreateKeysAndCertificateCommand, CreatePolicyCommand } from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { main } from '../../cli/main';
import { connectOnce, type Endpoint } from '../../device/mqtt-connection';
import { startStackHarness, type StackHarness } from '../../local/stack-harness';

/**
 * The operator CLI against the stack harness (local/stack-harness.ts) with MQTT and the credential provider
 * on free ports; the CLI finds it through an endpoints file in a temporary directory, as it finds
 * `npm run emulator` through .local/endpoints.json.
 */
export interface CliStack extends StackHarness {
  /** A fresh temporary directory, removed on close. */
  dir: string;
  /** `--local --endpoints-file <file>` */
  local: string[];
  endpoint: Endpoint;
  cli(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  /** An MQTT client allowed to receive every device's telemetry: what arrives, arrives here. */
  monitor(topicFilter: string): Promise<{ client: MqttClient; messages: Array<{ topic: string; payload: string }> }>;
}

export async function startCliStack(): Promise<CliStack> {
  // The CLI under test sets its own environment too (cli/target.ts: --local drops AWS_PROFILE, --region
  // sets AWS_REGION): all of process.env is put back on close, not only what the harness set.
  const savedEnv = { ...process.env };
  const stack = await startStackHarness({ core: { mqtt: { port: 0 }, credentials: { port: 0 }, lambdaTimeScale: 1_000 } });
  const { core, iot } = stack;
  const endpoint = stack.endpoint!;
  const dir = mkdtempSync(join(tmpdir(), 'iot-cli-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(core.endpoints));
  const clients: MqttClient[] = [];
  let monitors = 0;
  return {
    ...stack,
    dir,
    local: ['--local', '--endpoints-file', endpointsFile],
    endpoint,
    async cli(...args) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, (line) => out.push(line), (line) => err.push(line));
      return { code, out: out.join('\n'), err: err.join('\n') };
    },
    async monitor(topicFilter) {
      const name = `cli-test-monitor-${++monitors}`;
      const arn = `arn:aws:iot:${core.endpoints.region}:${core.endpoints.accountId}`;
      await iot.send(
        new CreatePolicyCommand({
          policyName: name,
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arn}:client/${name}` },
              { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arn}:topicfilter/device/*` },
              { Effect: 'Allow', Action: 'iot:Receive', Resource: `${arn}:topic/device/*` },
            ],
          }),
        }),
      );
      const keys = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.send(new AttachPolicyCommand({ policyName: name, target: keys.certificateArn }));
      const { client, error } = await connectOnce(endpoint, { certificatePem: keys.certificatePem!, privateKeyPem: keys.keyPair!.PrivateKey! }, name);
      if (!client) throw new Error(`monitor could not connect: ${error}`);
      clients.push(client);
      const messages: Array<{ topic: string; payload: string }> = [];
      client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString('utf8') }));
      await client.subscribeAsync(topicFilter, { qos: 1 });
      return { client, messages };
    },
    async close() {
      for (const client of clients) client.end(true);
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
      process.env = savedEnv;
    },
  };
}

/** Waits until `check` holds (or fails with what it last saw). */
export async function eventually<T>(read: () => T | Promise<T>, check: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
