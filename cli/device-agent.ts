import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mqttConnector } from '../device/agent-connection';
import { DirectoryFiles, writeFileAtomic } from '../device/atomic-files';
import { FILES, RotationAgent, RotationError, type AgentEvent } from '../device/rotation-agent';
import { parseDeviceId } from './device';
import { controlPlane, mqttEndpoint, type DeviceEndpointOptions } from './device-endpoints';
import { readCertificate, readPrivateKey } from './files';
import { CliError } from './target';

/**
 * `device agent <thing> --dir d`: the device's rotation agent (device/rotation-agent.ts) from a terminal. The
 * directory is the device's: certificate.pem and private.key (taken once from --cert/--key or the files
 * `device issue` wrote, <thing>AndCA.crt / <thing>.crt and <thing>.key), the .next pair during a rotation, and
 * rotation-state.json. Runs until Ctrl-C, or with --once until no job is pending.
 */

export interface AgentCommandOptions extends DeviceEndpointOptions {
  cert?: string;
  key?: string;
  once?: boolean;
  timeout?: string;
}

function describe(event: AgentEvent): string {
  switch (event.event) {
    case 'connected':
      return `connected with the ${event.with} certificate`;
    case 'refused':
      return `the ${event.with} certificate was refused (${event.error})`;
    case 'phase':
      return `rotation ${event.jobId ?? ''}: ${event.phase}`.replace('  ', ' ');
    case 'reported':
      return `job ${event.jobId}: reported ${event.status}${event.reason ? ` (${event.reason})` : ''}`;
    case 'csr-resent':
      return `rotation ${event.jobId}: no certificate yet, CSR sent again (attempt ${event.attempt})`;
  }
}

/** The agent's current pair: already in the directory, or copied there once from the device's files. */
async function adoptIdentity(dir: string, thing: string, options: AgentCommandOptions, progress: (line: string) => void): Promise<void> {
  if (existsSync(join(dir, FILES.certificate)) && existsSync(join(dir, FILES.key))) return;
  const chain = join(dir, `${thing}AndCA.crt`);
  const certPath = options.cert ?? (existsSync(chain) ? chain : join(dir, `${thing}.crt`));
  const keyPath = options.key ?? join(dir, `${thing}.key`);
  const hint = `issue one with: iot-provisioner device issue ${thing} --out ${dir}, or pass --cert and --key`;
  const { pem } = readCertificate(certPath, 'device certificate', hint);
  const key = readPrivateKey(keyPath, 'device private key', hint);
  await writeFileAtomic(dir, FILES.key, key);
  await writeFileAtomic(dir, FILES.certificate, pem);
  progress(`took ${certPath} and its key as the agent's current pair (${join(dir, FILES.certificate)}, ${join(dir, FILES.key)})`);
}

export async function deviceAgent(thingName: string | undefined, options: AgentCommandOptions, out: (line: string) => void, progress: (line: string) => void): Promise<number> {
  const thing = parseDeviceId(thingName, 'the thing name (the MQTT client id)');
  if (!options.dir) throw new CliError('--dir is required: the directory where the agent keeps the device\'s key, certificate and rotation state');
  const timeoutSeconds = options.timeout === undefined ? 30 : Number(options.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3_600) throw new CliError(`--timeout must be a number of seconds from 1 to 3600, got "${options.timeout}"`);
  await adoptIdentity(options.dir, thing, options, progress);
  const plane = await controlPlane(options);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const endpoint = await mqttEndpoint(options, plane, progress);
    progress(`agent for ${thing} on ${endpoint.host}:${endpoint.port} over MQTT ${endpoint.mqtt}, files in ${options.dir}${options.once ? ' (until no job is pending)' : ' (Ctrl-C stops it)'}`);
    const agent = new RotationAgent({
      thingName: thing,
      files: new DirectoryFiles(options.dir),
      connect: mqttConnector(endpoint),
      replyTimeoutMs: timeoutSeconds * 1000,
      onEvent: (event) => (event.event === 'reported' ? out : progress)(describe(event)),
    });
    try {
      await agent.run({ ...(options.once ? { once: true } : {}), signal: stop.signal });
    } catch (error) {
      if (error instanceof RotationError) throw new CliError(`${thing}: ${error.message} (${error.reason})`, { exitCode: 1 });
      throw error;
    }
    const state = await agent.readState();
    out(`${thing}: ${state.phase === 'idle' ? 'no rotation in progress' : `rotation ${state.jobId} at ${state.phase}`}`);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    plane?.close();
  }
}
