import { parseArgs } from 'node:util';
import { caCreate, caRegister } from './ca';
import { certificatesCommand } from './certificates';
import { deviceConnect, deviceCredentials, deviceIssue, deviceProvision } from './device';
import { deviceAgent } from './device-agent';
import { parseMqttVersion } from './device-endpoints';
import { devicesCommand } from './devices';
import { devicesImportCommand } from './devices-import';
import { devicesWhy } from './devices-why';
import { devicesLifecycleCommand } from './devices-lifecycle';
import { devicesReindexCommand } from './devices-reindex';
import { localCommand } from './local';
import { rotateCommand, rotateStatusCommand } from './rotate';
import { CliError } from './target';
import { vendCommand } from './vend';

/**
 * `npx iot-provisioner <command>`: the operator's and the device's side of the stack, against AWS
 * (profile, region, stage) or the local IoT Core (--local). Results go to stdout, progress to stderr.
 */

const OPTIONS = {
  // target
  local: { type: 'boolean' },
  stage: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  account: { type: 'string' },
  table: { type: 'string' },
  'endpoints-file': { type: 'string' },
  // devices
  'thing-group': { type: 'string' },
  'thing-type': { type: 'string' },
  attribute: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  reprovision: { type: 'boolean' },
  certificate: { type: 'string' },
  'failure-queue-url': { type: 'string' },
  'keep-thing': { type: 'boolean' },
  limit: { type: 'string' },
  // local
  ttl: { type: 'string' },
  group: { type: 'string', multiple: true },
  password: { type: 'string' },
  // files
  out: { type: 'string' },
  dir: { type: 'string' },
  force: { type: 'boolean' },
  once: { type: 'boolean' },
  // ca
  name: { type: 'string' },
  days: { type: 'string' },
  'older-than': { type: 'string' },
  'key-type': { type: 'string' },
  mode: { type: 'string' },
  'ca-dir': { type: 'string' },
  'ca-cert': { type: 'string' },
  'ca-key': { type: 'string' },
  'intermediate-of': { type: 'string' },
  // device
  cert: { type: 'string' },
  key: { type: 'string' },
  'ca-file': { type: 'string' },
  mqtt: { type: 'string' },
  endpoint: { type: 'string' },
  topic: { type: 'string' },
  message: { type: 'string' },
  timeout: { type: 'string' },
  template: { type: 'string' },
  claim: { type: 'string' },
  'claim-key': { type: 'string' },
  csr: { type: 'string' },
  parameter: { type: 'string', multiple: true },
  'client-id': { type: 'string' },
  'role-alias': { type: 'string' },
  'thing-name': { type: 'string' },
  format: { type: 'string' },
  // vend
  'api-url': { type: 'string' },
  rotate: { type: 'boolean' },
  revoke: { type: 'boolean' },
  'idempotency-key': { type: 'string' },
  // rotate
  devices: { type: 'string' },
  'expiring-within': { type: 'string' },
  'job-id': { type: 'string' },
  'dry-run': { type: 'boolean' },
  repair: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
const TARGET: OptionName[] = ['local', 'stage', 'region', 'profile', 'account', 'endpoints-file'];

interface CommandSpec {
  /** The usage line(s) and what the command does. */
  usage: string;
  options: OptionName[];
  /** Positional arguments after the command words. */
  positionals: { min: number; max: number };
}

const COMMANDS: Record<string, CommandSpec> = {
  'ca create': {
    usage: `ca create [--out dir] [--name CN] [--days 3650] [--key-type rsa-2048|ec-p256|ec-p384] [--intermediate-of ca-dir] [--force]
    a key and a self-signed CA certificate: <out>/rootCA.key (0600) and <out>/rootCA.pem. No AWS call.
    --intermediate-of <ca-dir>: a signing CA under the CA in <ca-dir> instead (a root, or an intermediate for
    a third level; 1825 days by default): <out>/intermediateCA.key (0600), <out>/intermediateCA.pem and
    <out>/intermediateCA-chain.pem (the CAs above it). Register this one, not its root, and issue devices
    from it with --ca-dir <out>.`,
    options: ['out', 'name', 'days', 'key-type', 'force', 'intermediate-of'],
    positionals: { min: 0, max: 0 },
  },
  'ca register': {
    usage: `ca register --mode sni-only|default [--ca-dir dir | --ca-cert rootCA.pem --ca-key rootCA.key]
    registers the CA ACTIVE with auto-registration (JITR). sni-only: any number of accounts, devices send SNI.
    default: one account per region; fetches the registration code and signs the verification certificate
    with the CA key itself. Prints the CA certificate id (the caCertificateIds stage parameter).`,
    options: ['mode', 'ca-dir', 'ca-cert', 'ca-key', ...TARGET],
    positionals: { min: 0, max: 0 },
  },
  'device issue': {
    usage: `device issue <deviceId> [--ca-dir dir | --ca-cert F --ca-key F] [--out dir] [--days 365] [--key-type rsa-2048|ec-p256|ec-p384] [--force]
    a key and a certificate from our CA (CN and serialNumber = deviceId): <deviceId>.key (0600),
    <deviceId>.crt and <deviceId>AndCA.crt (device certificate, then the CA: the chain JITR needs; under an
    intermediate, the intermediates up to the root). No AWS call.`,
    options: ['ca-dir', 'ca-cert', 'ca-key', 'out', 'days', 'key-type', 'force'],
    positionals: { min: 1, max: 1 },
  },
  'device connect': {
    usage: `device connect <thingName> [--dir dir | --cert chain.crt --key device.key] [--topic T] [--message M] [--timeout 60]
                [--endpoint host[:port]] [--ca-file AmazonRootCA1.pem] [--mqtt 5|3.1.1]
    connects over MQTT/TLS as client id <thingName>; while JITR has the certificate PENDING_ACTIVATION the
    connection is dropped, so it retries with exponential back-off and jitter until --timeout (seconds),
    then publishes --message (QoS 1) to --topic (default device/<thingName>/telemetry).
    Files default to <dir>/<thingName>AndCA.crt (else .crt) and <dir>/<thingName>.key. MQTT 5 unless --mqtt 3.1.1.`,
    options: ['dir', 'cert', 'key', 'topic', 'message', 'timeout', 'endpoint', 'ca-file', 'mqtt', ...TARGET],
    positionals: { min: 1, max: 1 },
  },
  'device agent': {
    usage: `device agent <thingName> --dir dir [--cert chain.crt --key device.key] [--once] [--timeout 30]
                [--endpoint host[:port]] [--ca-file AmazonRootCA1.pem] [--mqtt 5|3.1.1]
    the device's certificate-rotation agent (docs/rotation-protocol.md): takes rotate-certificate jobs over the
    AWS IoT Jobs MQTT API, makes the new key in <dir>, sends a CSR, reconnects with the new certificate, reports
    SUCCEEDED, and only then replaces <dir>/certificate.pem and <dir>/private.key (taken once from --cert/--key
    or <dir>/<thingName>AndCA.crt|.crt and <dir>/<thingName>.key). Resumes after a restart from
    <dir>/rotation-state.json. Runs until Ctrl-C; --once: until no job is pending. --timeout: seconds to wait
    for each answer.`,
    options: ['dir', 'cert', 'key', 'once', 'timeout', 'endpoint', 'ca-file', 'mqtt', ...TARGET],
    positionals: { min: 1, max: 1 },
  },
  'device provision': {
    usage: `device provision --claim claimCert.pem --claim-key claimPrivateKey.pem --parameter SerialNumber=S [--parameter k=v]...
                  [--template T] [--csr device.csr] [--name N] [--out dir] [--force] [--client-id C] [--timeout 30]
                  [--endpoint host[:port]] [--ca-file AmazonRootCA1.pem] [--mqtt 5|3.1.1]
    fleet provisioning by claim over MQTT (5 unless --mqtt 3.1.1): CreateKeysAndCertificate (or CreateCertificateFromCsr
    with --csr), then RegisterThing with the parameters; writes <name>.crt and <name>.key (0600, without --csr).
    --template defaults to the stage's template; --name to the SerialNumber parameter.`,
    options: ['claim', 'claim-key', 'parameter', 'template', 'csr', 'name', 'out', 'force', 'client-id', 'timeout', 'endpoint', 'ca-file', 'mqtt', ...TARGET],
    positionals: { min: 0, max: 0 },
  },
  'device credentials': {
    usage: `device credentials [<thingName>] [--dir dir | --cert F --key F] [--role-alias A] [--thing-name N] [--format json|env|process]
                    [--endpoint host[:port]] [--ca-file AmazonRootCA1.pem]
    temporary AWS credentials from the credential provider (mTLS GET /role-aliases/A/credentials with
    x-amzn-iot-thingname = --thing-name or <thingName>). --role-alias defaults to the stage's device role alias.
    --format env prints export lines (eval "$(…)"); process prints credential_process JSON.`,
    options: ['dir', 'cert', 'key', 'role-alias', 'thing-name', 'format', 'endpoint', 'ca-file', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  vend: {
    usage: `vend <deviceId> [--csr device.csr] [--rotate] [--revoke] [--idempotency-key K] [--out dir] [--force] [--api-url URL]
    certificate vending through the stack's HTTP API (IAM, SigV4-signed with your AWS credentials):
    POST /devices/<deviceId>/certificate (a new key and certificate, or one for your CSR; --rotate replaces
    an ACTIVE one); --revoke: DELETE. Writes <deviceId>.crt and <deviceId>.key (0600, without --csr).
    --api-url: the stack's HttpApiUrl output (with --local: the emulator's HTTP API).`,
    options: ['csr', 'rotate', 'revoke', 'idempotency-key', 'out', 'force', 'api-url', ...TARGET],
    positionals: { min: 1, max: 1 },
  },
  'devices allow': {
    usage: `devices allow <deviceId> [--thing-group G] [--thing-type T] [--attribute k=v]... [--reprovision] [--json]
    allow-lists the device in the registry (its whole profile: options not given are cleared).`,
    options: ['thing-group', 'thing-type', 'attribute', 'reprovision', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices block': {
    usage: `devices block <deviceId> [--json]
    blocks the device: no future provisioning (an ACTIVE certificate stays; the command to deactivate is printed).`,
    options: ['json', 'table', 'thing-group', 'thing-type', 'attribute', 'reprovision', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices show': {
    usage: `devices show <deviceId> [--json]
    the registry entry: status, bound certificate, last provisioning decision and last refusal.`,
    options: ['json', 'table', 'thing-group', 'thing-type', 'attribute', 'reprovision', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices import': {
    usage: `devices import <file> [--format csv|ndjson]
    a factory batch into the registry, allow-listed: CSV (header deviceId[,thingGroup][,thingType][,attr.<name>]...
    [,publicKey|,publicKeySha256]) or NDJSON ({"deviceId":…,"attributes":{…},"publicKeySha256":…}). A key pins the
    device: only a certificate or CSR with that key provisions it. Every row is checked first; invalid rows are
    reported by line and not written. Re-running a file writes nothing new ("unchanged"); an existing entry keeps
    its status and binding. Format from the extension (.csv, .ndjson, .jsonl) unless --format.`,
    options: ['format', 'table', ...TARGET],
    positionals: { min: 1, max: 1 },
  },
  'devices reindex': {
    usage: `devices reindex
    once, after upgrading a stack deployed before the console (issue 12): gives every registry entry written
    before then its device-list partition, so that the console's device list shows it. A Scan of the
    registry; safe to run again.`,
    options: ['table', ...TARGET],
    positionals: { min: 0, max: 0 },
  },
  'devices why': {
    usage: `devices why [<deviceId>] [--certificate <id|device.crt>] [--failure-queue-url URL] [--json]
    why the device cannot connect: the registry entry and its last decisions, the certificate in AWS IoT
    (status, thing, policies, validity), its CA, and the failure queue's messages about it, joined into one
    diagnosis with its fix. --certificate: a certificate id (SHA-256 of the DER) or a PEM file (a chain file
    also names the CA), for a device whose certificate neither the registry nor the failure queue names.
    The failure queue is read without consuming it (best-effort); on AWS it is found by the stack's name
    prefix, or pass the stack's ProvisioningFailureQueueUrl output.`,
    options: ['certificate', 'failure-queue-url', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices suspend': {
    usage: `devices suspend <deviceId> [--json]
    cuts a provisioned device off: its certificate INACTIVE, its thing moved to the quarantine thing group.`,
    options: ['json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices resume': {
    usage: `devices resume <deviceId> [--json]
    undoes a suspension: the thing back in its groups, the certificate ACTIVE again.`,
    options: ['json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices retire': {
    usage: `devices retire <deviceId> [--keep-thing] [--json]
    decommissions the device: certificate REVOKED and detached from its thing and policies, the thing deleted
    (kept with --keep-thing); the registry keeps the history. \`devices allow\` lets the serial in again.`,
    options: ['keep-thing', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'devices timeline': {
    usage: `devices timeline <deviceId> [--limit N] [--json]
    the device's timeline, oldest first (the newest N events, default 100): who did what, when, and why.`,
    options: ['limit', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 1 },
  },
  'certificates expiring': {
    usage: `certificates expiring [--days 30] [--older-than M] [--json]
    bound certificates that expire within --days (0: only the expired ones) or, with --older-than, are at
    least M days old (AWS IoT's certificates are valid until 2049: age is what finds them). From the
    registry's expiry indexes: device, certificate, notAfter, age, issuer. Bindings recorded before the
    registry kept certificate facts are not listed.`,
    options: ['days', 'older-than', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 0 },
  },
  rotate: {
    usage: `rotate --devices <id,id|@file> | --thing-group G | --expiring-within N | --older-than M [--job-id rotate-…] [--dry-run] [--json]
    starts a certificate rotation (AWS IoT Jobs, docs/rotation-protocol.md): each bound device that is not
    suspended, retired or blocked and has no rotation open is queued in the registry and put in the thing group
    rotation-<jobId>; then one job from the stack's rotation job template (its rollout, abort and timeout) for
    that group. The others are listed with why. --expiring-within / --older-than: from the registry's expiry
    indexes (days). --job-id: default rotate-<yyyymmdd-hhmmss> (UTC); running it again with the same id finishes
    an interrupted start. --dry-run: who would be queued; nothing written. Exit 1 when no device could be queued.`,
    options: ['devices', 'thing-group', 'expiring-within', 'older-than', 'job-id', 'dry-run', 'json', 'table', ...TARGET],
    positionals: { min: 0, max: 0 },
  },
  'rotate status': {
    usage: `rotate status <jobId> [--json] [--repair]
    the rotation job's status and, per device, queued / in progress / succeeded / rolled back / refused with the
    reason (the registry's rotation state and the job execution's status), with counts. --repair: a device still
    queued whose execution ended, or that has none in a job that no longer hands them out, goes back to no open
    rotation (rolled back, not-notified).`,
    options: ['json', 'repair', 'table', ...TARGET],
    positionals: { min: 1, max: 1 },
  },
  'local token': {
    usage: `local token <username> [--group technicians|operators]... [--ttl seconds]
    an ID token of the local user pool for the local HTTP API (npm run emulator); a user added with
    \`local user add\` has their own groups unless --group says otherwise.`,
    options: ['ttl', 'group', 'endpoints-file'],
    positionals: { min: 0, max: 1 },
  },
  'local user': {
    usage: `local user add <email> --group operators|technicians [--password P]
    a user of the local user pool (npm run emulator), who signs in to the console at its hosted sign-in;
    without --password one is made up and printed. Kept in the emulator's memory only (scrypt-hashed).`,
    options: ['group', 'password', 'endpoints-file'],
    positionals: { min: 2, max: 2 },
  },
};

const TARGET_HELP = `target (default: AWS with your usual credentials):
  --local               the local IoT Core started by \`npm run emulator\`
  --stage <stage>       deployment stage (default dev): table, template and role alias names follow it
  --region <region>     AWS region
  --profile <profile>   AWS profile (with --local: its access key, a 12-digit account id, names the account)
  --account <A|B|id>    with --local: the account to act in (npm run emulator -- --account 210987654321 deploys B)
  --table <name>        registry table name, if not the stage's default
  --endpoints-file <f>  with --local: the emulator's endpoints file (default .local/endpoints.json)`;

const USAGE = `usage: iot-provisioner <command> [options]      (iot-provisioner <command> --help for one command)

commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.split('\n')[0]}`)
  .join('\n')}

${TARGET_HELP}`;

const commandHelp = (key: string) => `usage: iot-provisioner ${COMMANDS[key]!.usage}\n\n${COMMANDS[key]!.options.some((o) => TARGET.includes(o)) ? TARGET_HELP : ''}`.trimEnd();
const usageLine = (key: string) => `usage: iot-provisioner ${COMMANDS[key]!.usage.split('\n')[0]}`;

/** The command named by the first words of argv (`ca create`, `vend`), if any. */
function findCommand(words: string[]): string | undefined {
  const two = words.slice(0, 2).join(' ');
  if (COMMANDS[two]) return two;
  if (words[0] && COMMANDS[words[0]]) return words[0];
  return undefined;
}

const GROUPS: Record<string, string> = {
  ca: 'ca create|register',
  device: 'device issue|connect|provision|credentials',
  devices: 'devices allow|block|show|import|reindex|why|suspend|resume|retire|timeline',
  certificates: 'certificates expiring',
  local: 'local token|user',
};

export async function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  let command: string | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
    } catch (error) {
      const words = argv.filter((a) => !a.startsWith('-'));
      const key = findCommand(words);
      throw new CliError(`${(error as Error).message}${key ? `\n${usageLine(key)}` : ''}`);
    }
    const { values, positionals } = parsed;
    command = findCommand(positionals);
    if (!command) {
      if (values.help || positionals.length === 0) {
        out(USAGE);
        return values.help ? 0 : 2;
      }
      const group = GROUPS[positionals[0]!];
      if (group) throw new CliError(`usage: ${group} …${positionals[1] ? ` (unknown: "${positionals[1]}")` : ''}\n\n${USAGE}`);
      throw new CliError(`unknown command "${positionals[0]}"\n\n${USAGE}`);
    }
    const spec = COMMANDS[command]!;
    if (values.help) {
      out(commandHelp(command));
      return 0;
    }
    const args = positionals.slice(command.split(' ').length);
    if (args.length > spec.positionals.max) throw new CliError(`unexpected argument "${args[spec.positionals.max]}"\n${usageLine(command)}`);
    if (args.length < spec.positionals.min) throw new CliError(`missing argument\n${usageLine(command)}`);
    const misplaced = (Object.keys(values) as OptionName[]).filter((name) => name !== 'help' && !spec.options.includes(name));
    if (misplaced.length) {
      throw new CliError(`${misplaced.map((o) => `--${o}`).join(', ')} ${misplaced.length === 1 ? 'is not an option' : 'are not options'} of \`${command}\`\n${usageLine(command)}`);
    }

    const v = values as Record<string, string | boolean | string[] | undefined>;
    const str = (name: OptionName) => v[name] as string | undefined;
    const target = {
      ...(values.local ? { local: true } : {}),
      ...(values.stage ? { stage: values.stage } : {}),
      ...(values.region ? { region: values.region } : {}),
      ...(values.profile ? { profile: values.profile } : {}),
      ...(values.account ? { account: values.account } : {}),
      ...(values.table ? { table: values.table } : {}),
      ...(values['endpoints-file'] ? { endpointsFile: values['endpoints-file'] } : {}),
    };
    const progress = err;
    // --mqtt is checked before any file is read or any call made.
    const endpointOptions = { ...target, endpoint: str('endpoint'), caFile: str('ca-file'), dir: str('dir'), mqtt: parseMqttVersion(str('mqtt')) };
    const ca = { caDir: str('ca-dir'), caCert: str('ca-cert'), caKey: str('ca-key') };
    switch (command) {
      case 'ca create':
        return await caCreate({ out: str('out'), name: str('name'), days: str('days'), keyType: str('key-type'), force: values.force, intermediateOf: str('intermediate-of') }, out, progress);
      case 'ca register':
        return await caRegister({ ...target, ...ca, mode: str('mode') }, out, progress);
      case 'device issue':
        return await deviceIssue(args[0], { ...ca, out: str('out'), days: str('days'), keyType: str('key-type'), force: values.force }, out, progress);
      case 'device connect':
        return await deviceConnect(
          args[0],
          { ...endpointOptions, cert: str('cert'), key: str('key'), topic: str('topic'), message: str('message'), timeout: str('timeout') },
          out,
          progress,
        );
      case 'device agent':
        return await deviceAgent(args[0], { ...endpointOptions, cert: str('cert'), key: str('key'), once: values.once === true, timeout: str('timeout') }, out, progress);
      case 'device provision':
        return await deviceProvision(
          {
            ...endpointOptions,
            claim: str('claim'),
            claimKey: str('claim-key'),
            csr: str('csr'),
            parameter: values.parameter,
            template: str('template'),
            name: str('name'),
            out: str('out'),
            force: values.force,
            clientId: str('client-id'),
            timeout: str('timeout'),
          },
          out,
          progress,
        );
      case 'device credentials':
        return await deviceCredentials(
          args[0],
          { ...endpointOptions, cert: str('cert'), key: str('key'), roleAlias: str('role-alias'), thingName: str('thing-name'), format: str('format') },
          out,
          progress,
        );
      case 'vend':
        return await vendCommand(
          args[0],
          {
            ...target,
            csr: str('csr'),
            rotate: values.rotate,
            revoke: values.revoke,
            idempotencyKey: str('idempotency-key'),
            out: str('out'),
            force: values.force,
            apiUrl: str('api-url'),
          },
          out,
          progress,
        );
      case 'devices allow':
      case 'devices block':
      case 'devices show':
        return await devicesCommand(
          command.split(' ')[1],
          args[0],
          {
            ...target,
            ...(values['thing-group'] ? { thingGroup: values['thing-group'] } : {}),
            ...(values['thing-type'] ? { thingType: values['thing-type'] } : {}),
            ...(values.attribute ? { attribute: values.attribute } : {}),
            ...(values.json ? { json: true } : {}),
            ...(values.reprovision ? { reprovision: true } : {}),
          },
          out,
        );
      case 'devices import':
        return await devicesImportCommand(args[0], { ...target, ...(str('format') ? { format: str('format') } : {}) }, out);
      case 'devices reindex':
        return await devicesReindexCommand(target, out);
      case 'devices why':
        return await devicesWhy(args[0], { ...target, certificate: str('certificate'), failureQueueUrl: str('failure-queue-url'), json: values.json }, out);
      case 'devices suspend':
      case 'devices resume':
      case 'devices retire':
      case 'devices timeline':
        return await devicesLifecycleCommand(
          command.split(' ')[1] as 'suspend' | 'resume' | 'retire' | 'timeline',
          args[0],
          { ...target, ...(values['keep-thing'] ? { keepThing: true } : {}), ...(values.json ? { json: true } : {}), ...(values.limit !== undefined ? { limit: values.limit } : {}) },
          out,
        );
      case 'certificates expiring':
        return await certificatesCommand('expiring', { ...target, days: str('days'), olderThan: str('older-than'), ...(values.json ? { json: true } : {}) }, out);
      case 'rotate':
        return await rotateCommand(
          {
            ...target,
            ...(str('devices') !== undefined ? { devices: str('devices') } : {}),
            ...(str('thing-group') !== undefined ? { thingGroup: str('thing-group') } : {}),
            ...(str('expiring-within') !== undefined ? { expiringWithin: str('expiring-within') } : {}),
            ...(str('older-than') !== undefined ? { olderThan: str('older-than') } : {}),
            ...(str('job-id') !== undefined ? { jobId: str('job-id') } : {}),
            ...(values['dry-run'] ? { dryRun: true } : {}),
            ...(values.json ? { json: true } : {}),
          },
          out,
        );
      case 'rotate status':
        return await rotateStatusCommand(args[0], { ...target, ...(values.json ? { json: true } : {}), ...(values.repair ? { repair: true } : {}) }, out);
      case 'local token': {
        const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
        if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new CliError('--ttl must be a whole number of seconds');
        return await localCommand(
          'token',
          args[0],
          { ...(values['endpoints-file'] ? { endpointsFile: values['endpoints-file'] } : {}), ...(ttl ? { ttlSeconds: ttl } : {}), ...(values.group ? { groups: values.group } : {}) },
          out,
        );
      }
      case 'local user':
        return await localCommand(
          `user ${args[0]}`,
          args[1],
          { ...(values['endpoints-file'] ? { endpointsFile: values['endpoints-file'] } : {}), ...(values.group ? { groups: values.group } : {}), ...(values.password !== undefined ? { password: values.password } : {}) },
          out,
        );
    }
    throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
  } catch (error) {
    if (error instanceof CliError) {
      err(`iot-provisioner: ${error.message}`);
      return error.exitCode;
    }
    err(`iot-provisioner: ${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  }
}
