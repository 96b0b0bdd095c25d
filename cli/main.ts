import { parseArgs } from 'node:util';
import { devicesCommand } from './devices';
import { localCommand } from './local';
import { CliError } from './target';

const USAGE = `usage: iot-provisioner <command> [options]

commands:
  devices allow <deviceId> [--thing-group G] [--thing-type T] [--attribute k=v]... [--reprovision]
  devices block <deviceId>
  devices show  <deviceId> [--json]
  local token <username> [--ttl seconds]     a JWT for the local HTTP API (npm run emulator)

target (default: AWS with your usual credentials):
  --local               the local IoT Core started by \`npm run emulator\`
  --stage <stage>       deployment stage (default dev); the registry table is iot-provisioner-<stage>-devices
  --region <region>     AWS region
  --profile <profile>   AWS profile
  --table <name>        registry table name, if not the stage's default
  --endpoints-file <f>  with --local: the emulator's endpoints file (default .local/endpoints.json)`;

export async function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        local: { type: 'boolean' },
        stage: { type: 'string' },
        region: { type: 'string' },
        profile: { type: 'string' },
        table: { type: 'string' },
        'endpoints-file': { type: 'string' },
        'thing-group': { type: 'string' },
        'thing-type': { type: 'string' },
        attribute: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        ttl: { type: 'string' },
        reprovision: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [command, action, subject] = positionals;
    if (values.help || !command) {
      out(USAGE);
      return values.help ? 0 : 2;
    }
    if (command === 'devices') {
      return await devicesCommand(
        action,
        subject,
        {
          ...(values.local ? { local: true } : {}),
          ...(values.stage ? { stage: values.stage } : {}),
          ...(values.region ? { region: values.region } : {}),
          ...(values.profile ? { profile: values.profile } : {}),
          ...(values.table ? { table: values.table } : {}),
          ...(values['endpoints-file'] ? { endpointsFile: values['endpoints-file'] } : {}),
          ...(values['thing-group'] ? { thingGroup: values['thing-group'] } : {}),
          ...(values['thing-type'] ? { thingType: values['thing-type'] } : {}),
          ...(values.attribute ? { attribute: values.attribute } : {}),
          ...(values.json ? { json: true } : {}),
          ...(values.reprovision ? { reprovision: true } : {}),
        },
        out,
      );
    }
    if (command === 'local') {
      const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new CliError('--ttl must be a whole number of seconds');
      return await localCommand(action, subject, { ...(values['endpoints-file'] ? { endpointsFile: values['endpoints-file'] } : {}), ...(ttl ? { ttlSeconds: ttl } : {}) }, out);
    }
    throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
  } catch (error) {
    if (error instanceof CliError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`iot-provisioner: ${(error as Error).message}`);
      return 2;
    }
    err(`iot-provisioner: ${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  }
}
