import { existsSync, readFileSync } from 'node:fs';
import { MQTT_VERSIONS, type Endpoint, type MqttVersion } from '../device/mqtt-connection';
import { createDocumentClient, createIotClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import type { DeviceEntry } from '../shared/registry/device-entry';
import { outputPath } from './files';
import { IotOperator } from './iot-operator';
import { CliError, useTarget, type Target, type TargetOptions } from './target';

/**
 * Where a device connects, as it would find out: the account's `iot:Data-ATS` / `iot:CredentialProvider`
 * endpoints (DescribeEndpoint) with Amazon Root CA 1 as the server's CA — or, with --local, the emulator's
 * MQTT and credentials endpoints with its root CA. The control plane, when reachable, also explains why a
 * device is refused (certificate status, the registry's last refusal).
 */

export const AMAZON_ROOT_CA_FILE = 'AmazonRootCA1.pem';
export const AMAZON_ROOT_CA_URL = 'https://www.amazontrust.com/repository/AmazonRootCA1.pem';
const MQTT_TLS_PORT = 8883;

export interface DeviceEndpointOptions extends TargetOptions {
  /** host[:port] (MQTT) or https://host[:port] (credentials): skips DescribeEndpoint. */
  endpoint?: string;
  caFile?: string;
  dir?: string;
  /** --mqtt 5|3.1.1: the MQTT version the device speaks (default 5). */
  mqtt?: string;
}

/** The --mqtt value: MQTT 5 unless 3.1.1 is asked for. */
export function parseMqttVersion(value: string | undefined): MqttVersion {
  if (value === undefined) return '5';
  const version = MQTT_VERSIONS.find((known) => known === value);
  if (!version) throw new CliError(`--mqtt expects ${MQTT_VERSIONS.join(' or ')}, got "${value}"`);
  return version;
}

/** What the CLI can ask the control plane on a device's behalf; absent when it has no region or credentials. */
export interface ControlPlane {
  target: Target;
  operator: IotOperator;
  registry: DynamoDeviceRegistry;
  close(): void;
}

/**
 * The control plane for --local, or for AWS when a region is known. A device command given --endpoint on
 * AWS works without one (a device has no IAM credentials); it only loses the explanations.
 */
export async function controlPlane(options: DeviceEndpointOptions): Promise<ControlPlane | undefined> {
  let target: Target;
  try {
    target = await useTarget(options);
  } catch (error) {
    if (error instanceof CliError && !options.local && options.endpoint) return undefined;
    throw error;
  }
  const iot = createIotClient({ maxAttempts: 3 });
  const documents = createDocumentClient({ maxAttempts: 2 });
  return {
    target,
    operator: new IotOperator(iot),
    registry: new DynamoDeviceRegistry(documents, target.registryTable),
    close: () => {
      iot.destroy();
      documents.destroy();
    },
  };
}

/** The server CA a device pins: --ca-file, the local root CA, ./AmazonRootCA1.pem, or Node's built-in roots. */
function serverCa(options: DeviceEndpointOptions, plane: ControlPlane | undefined, note: (line: string) => void): string | undefined {
  if (options.caFile) {
    if (!existsSync(options.caFile)) {
      throw new CliError(
        `--ca-file ${options.caFile} not found.${options.local ? '' : ` AWS IoT's server CA is Amazon Root CA 1: curl -o ${AMAZON_ROOT_CA_FILE} ${AMAZON_ROOT_CA_URL}`}`,
      );
    }
    return readFileSync(options.caFile, 'utf8');
  }
  const local = plane?.target.local;
  if (local) {
    if (!local.rootCaFile || !existsSync(local.rootCaFile)) throw new CliError('the local IoT Core names no root CA file; restart it with: npm run emulator');
    return readFileSync(local.rootCaFile, 'utf8');
  }
  const beside = outputPath(options.dir, AMAZON_ROOT_CA_FILE);
  if (existsSync(beside)) return readFileSync(beside, 'utf8');
  note(`server CA: Node's built-in roots (they include Amazon Root CA 1). Devices pin it: curl -o ${AMAZON_ROOT_CA_FILE} ${AMAZON_ROOT_CA_URL}, then --ca-file ${AMAZON_ROOT_CA_FILE}`);
  return undefined;
}

function splitHostPort(value: string, defaultPort: number): { host: string; port: number } {
  const match = /^(?:[a-z]+:\/\/)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(value);
  if (!match) throw new CliError(`--endpoint expects host[:port], got "${value}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: match[2] ? Number(match[2]) : defaultPort };
}

async function describe(plane: ControlPlane | undefined, type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
  if (!plane) throw new CliError(`no endpoint: pass --endpoint (aws iot describe-endpoint --endpoint-type ${type}), or --region so that it can be looked up`);
  try {
    return await plane.operator.endpoint(type);
  } catch (error) {
    throw new CliError(
      `cannot look up the ${type} endpoint (${(error as Error).name}: ${(error as Error).message}); pass --endpoint from: aws iot describe-endpoint --endpoint-type ${type}`,
      { cause: error },
    );
  }
}

/** The MQTT endpoint: AWS's iot:Data-ATS on 8883, or the emulator's MQTT port with SNI = the account endpoint. */
export async function mqttEndpoint(options: DeviceEndpointOptions, plane: ControlPlane | undefined, note: (line: string) => void): Promise<Endpoint> {
  const mqtt = parseMqttVersion(options.mqtt);
  const caPem = serverCa(options, plane, note);
  const local = plane?.target.local;
  if (options.endpoint) {
    const { host, port } = splitHostPort(options.endpoint, local?.mqtt?.port ?? MQTT_TLS_PORT);
    return { host, port, mqtt, ...(caPem ? { caPem } : {}) };
  }
  if (local && !local.mqtt) throw new CliError('the local IoT Core runs without its MQTT endpoint; restart it with: npm run emulator');
  // SNI carries the account endpoint: AWS routes SNI_ONLY certificates by it (aws-iot-reference §2).
  const servername = await describe(plane, 'iot:Data-ATS');
  return local?.mqtt
    ? { host: local.mqtt.host, port: local.mqtt.port, servername, mqtt, ...(caPem ? { caPem } : {}) }
    : { host: servername, port: MQTT_TLS_PORT, mqtt, ...(caPem ? { caPem } : {}) };
}

/** The credential provider's base URL (https://…) and the server CA. */
export async function credentialsEndpoint(
  options: DeviceEndpointOptions,
  plane: ControlPlane | undefined,
  note: (line: string) => void,
): Promise<{ url: string; caPem?: string; servername?: string }> {
  const caPem = serverCa(options, plane, note);
  const local = plane?.target.local;
  let url: string;
  let servername: string | undefined;
  if (options.endpoint) {
    const { host, port } = splitHostPort(options.endpoint, 443);
    url = `https://${host.includes(':') ? `[${host}]` : host}${port === 443 ? '' : `:${port}`}`;
  } else if (local) {
    if (!local.credentials) throw new CliError('the local IoT Core runs without its credential provider; restart it with: npm run emulator');
    url = local.credentials;
    // Another account's credential provider is the same listener, reached by its endpoint name in SNI.
    const name = await describe(plane, 'iot:CredentialProvider');
    if (name !== new URL(url).hostname) servername = name;
  } else {
    url = `https://${await describe(plane, 'iot:CredentialProvider')}`;
  }
  return { url, ...(caPem ? { caPem } : {}), ...(servername ? { servername } : {}) };
}

/** The registry's entry for a device, if the control plane can be read; never throws. */
export async function registryEntry(plane: ControlPlane | undefined, deviceId: string | undefined): Promise<DeviceEntry | undefined> {
  if (!plane || !deviceId) return undefined;
  try {
    return await plane.registry.get(deviceId);
  } catch {
    return undefined;
  }
}
