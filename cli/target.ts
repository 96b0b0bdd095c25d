import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { ENDPOINTS_FILE, readEndpointsFile, sdkEnvironment, type LocalEndpoints } from '../lib/local-endpoints';
import { loadStack } from '../lib/stack';
import namesModule = require('../resources/names.cjs');

/**
 * Where the CLI acts: an AWS account (profile, region, stage) or the local IoT Core (`--local`), whose
 * endpoints `npm run emulator` writes to .local/endpoints.json. Either way the AWS SDK is configured
 * through its standard environment variables, exactly as the handlers are.
 */

/**
 * An error the operator can act on: printed as is, without a stack. Exit code 2 for a wrong command line
 * or an unusable setup (the default), 1 for an operation that ran and failed (a device refused, an API
 * answering 403).
 */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? 2;
  }
}

export interface TargetOptions {
  local?: boolean;
  stage?: string;
  region?: string;
  profile?: string;
  /** With --local: the account to act in (a label of the endpoints file, e.g. B, or a 12-digit id). */
  account?: string;
  table?: string;
  endpointsFile?: string;
}

export interface Target {
  description: string;
  registryTable: string;
  /** The device timeline table and the quarantine thing group of this stage (resources/names.cjs). */
  timelineTable: string;
  quarantineGroup: string;
  stage: string;
  /** The stack's fleet-provisioning template and device role alias for this stage. */
  templateName: string;
  roleAlias: string;
  /** The stack's rotation job template id (resources/rotation.cjs). */
  rotationJobTemplate: string;
  /** The stack's rotation commit function (rotationEvents), which `rotate status --repair` hands lost Jobs events. */
  rotationEventsFunction: string;
  /** With --local: the running emulator's endpoints, `accountId` the account acted in (--account). */
  local?: LocalEndpoints;
}

/** The running emulator's endpoints; a clear error when it is not running. */
export async function readLocalEndpoints(endpointsFile?: string): Promise<LocalEndpoints> {
  const file = endpointsFile ?? ENDPOINTS_FILE;
  const endpoints = readEndpointsFile(file);
  if (!endpoints) throw new CliError(`the local IoT Core is not running (no ${file}); start it with: npm run emulator`);
  try {
    const response = await fetch(`${endpoints.iot}/_local/health`, { signal: AbortSignal.timeout(1_500) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new CliError(`the local IoT Core at ${endpoints.iot} does not answer (${(error as Error).message}); start it with: npm run emulator`);
  }
  return endpoints;
}

export async function useTarget(options: TargetOptions): Promise<Target> {
  const stage = options.stage ?? 'dev';
  const stack = loadStack({ stage });
  const derived = namesModule.namesFor(stack.service, stage);
  const names = {
    stage,
    registryTable: options.table ?? derived.registryTable,
    timelineTable: derived.timelineTable,
    quarantineGroup: derived.quarantineThingGroup,
    templateName: stack.params.fleetTemplateName ?? derived.fleetTemplate,
    roleAlias: derived.roleAlias,
    rotationJobTemplate: derived.rotationJobTemplate,
    rotationEventsFunction: derived.functions.rotationEvents,
  };
  if (!options.local) {
    if (options.account) throw new CliError('--account is for --local (on AWS the profile\'s credentials name the account)');
    if (options.profile) process.env.AWS_PROFILE = options.profile;
    if (options.region) process.env.AWS_REGION = options.region;
    if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION && !options.profile) {
      throw new CliError('no region: pass --region (or set AWS_REGION / use a --profile with a region)');
    }
    return { description: `AWS ${options.profile ? `profile ${options.profile}, ` : ''}stage ${stage}`, ...names };
  }

  const endpoints = await readLocalEndpoints(options.endpointsFile);
  const accountId = await localAccount(endpoints, options);
  Object.assign(process.env, sdkEnvironment(endpoints, accountId));
  delete process.env.AWS_PROFILE;
  const label = endpoints.accounts?.find((a) => a.accountId === accountId)?.label;
  return {
    description: `local IoT Core ${endpoints.iot}${accountId === endpoints.accountId ? '' : `, account ${label ? `${label} (${accountId})` : accountId}`}`,
    ...names,
    local: { ...endpoints, accountId },
  };
}

/**
 * The account a --local command acts in: --account (a label the emulator printed, or a 12-digit id), else
 * the access key of --profile (a local operator key is the 12-digit account id), else the default account.
 * An account the emulator did not deploy into is refused: its commands would find no stack.
 */
async function localAccount(endpoints: LocalEndpoints, options: TargetOptions): Promise<string> {
  const known = endpoints.accounts ?? [{ label: 'A', accountId: endpoints.accountId }];
  const list = known.map((a) => `${a.label} (${a.accountId})`).join(', ');
  let wanted = options.account;
  if (wanted === undefined && options.profile) {
    let accessKeyId: string;
    try {
      // The profile's keys, not the environment's (the SDK warns of both being set: quiet, the profile is what was asked for).
      const quiet = { debug() {}, info() {}, warn() {}, error() {} };
      ({ accessKeyId } = await defaultProvider({ profile: options.profile, logger: quiet })());
    } catch (error) {
      throw new CliError(`--profile ${options.profile}: no credentials (${(error as Error).message})`);
    }
    if (!/^\d{12}$/.test(accessKeyId)) {
      throw new CliError(`--profile ${options.profile}: its access key is not a local one (with --local, aws_access_key_id is the 12-digit account id: ${list})`);
    }
    wanted = accessKeyId;
  }
  if (wanted === undefined) return endpoints.accountId;
  const match = known.find((a) => a.label.toLowerCase() === wanted.toLowerCase() || a.accountId === wanted);
  if (!match) throw new CliError(`account ${wanted}: the local IoT Core has the stack in ${list} only`);
  return match.accountId;
}
