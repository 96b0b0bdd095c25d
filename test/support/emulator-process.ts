import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './ports';

const ROOT = resolve(__dirname, '../..');

export interface EmulatorEndpoints {
  region: string;
  accountId: string;
  iot: string;
  /** The data plane (iot-data). */
  iotData: string;
  dynamodb: string;
  http: string;
  mqtt: { host: string; port: number };
  credentials: string;
  s3?: string;
  sqs?: string;
  sns?: string;
  /** The user pool's hosted sign-in. */
  userPool?: string;
  rootCaFile: string;
}

/** Every port flag of `npm run emulator`; each gets a free port so parallel test files never collide. */
const PORT_FLAGS = ['--iot-port', '--dynamodb-port', '--http-port', '--mqtt-port', '--credentials-port', '--sqs-port', '--s3-port', '--sns-port', '--logs-port', '--cloudwatch-port', '--user-pool-port', '--console-port', '--lambda-port', '--iot-data-port'];

/**
 * `npm run emulator` as users run it — a separate process — on free ports, with its endpoints file and
 * root CA in `dir`. `stop()` sends SIGTERM and waits for the exit.
 */
export async function startEmulatorProcess(
  dir: string,
  extraArgs: string[] = [],
): Promise<{ endpoints: EmulatorEndpoints; endpointsFile: string; output: string; stop: () => Promise<void> }> {
  const ports = await Promise.all(PORT_FLAGS.map(() => freePort()));
  const endpointsFile = join(dir, 'endpoints.json');
  const emulator: ChildProcess = spawn(
    process.execPath,
    [
      resolve(ROOT, 'node_modules/tsx/dist/cli.mjs'),
      'local/emulator.ts',
      ...PORT_FLAGS.flatMap((flag, i) => [flag, String(ports[i])]),
      '--endpoints-file',
      endpointsFile,
      '--state-dir',
      dir,
      '--no-demo',
      ...extraArgs,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' } },
  );
  let output = '';
  await new Promise<void>((ready, fail) => {
    emulator.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ctrl-C stops it.')) ready();
    });
    emulator.once('exit', (code) => fail(new Error(`npm run emulator exited with ${code}: ${output}`)));
  });
  return {
    endpoints: JSON.parse(readFileSync(endpointsFile, 'utf8')) as EmulatorEndpoints,
    endpointsFile,
    output,
    stop: async () => {
      const exited = new Promise((done) => emulator.once('exit', done));
      emulator.kill('SIGTERM');
      await exited;
    },
  };
}
