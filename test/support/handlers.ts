import { resolve } from 'node:path';
import { loadStack, PROJECT_ROOT, type Stack, type StackFunction } from '../../lib/stack';

/**
 * What handler tests share: loading a function's handler module under the environment serverless.yml gives
 * it (one stage's, read from the stack, not copied into each suite), which AWS IoT calls change state, and
 * the ARN of a certificate.
 */

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-east-1';
/** The stage handler tests load: table, policy and queue names are `iot-provisioner-test-…`. */
export const TEST_STAGE = 'test';

/** The stack settings of the test stage with every parameter at its default (resources/stack.cjs `buildResources`). */
export const TEST_STACK_SETTINGS = {
  service: 'iot-provisioner',
  stage: TEST_STAGE,
  devicePolicyName: `iot-provisioner-${TEST_STAGE}-device`,
  caCertificateIds: [] as string[],
  caCertificateMode: 'SNI_ONLY',
  fleetTemplateName: `iot-provisioner-${TEST_STAGE}`,
  fleetThingAttributes: [] as string[],
};

/** The certificate's ARN in the test account, as AWS IoT forms it. */
export const arnOf = (certificateId: string, accountId: string = TEST_ACCOUNT): string => `arn:aws:iot:${TEST_REGION}:${accountId}:cert/${certificateId}`;

let stacks: Map<string, Stack> | undefined;
function stackOf(stage: string): Stack {
  stacks ??= new Map();
  let stack = stacks.get(stage);
  if (!stack) {
    stack = loadStack({ stage, region: TEST_REGION });
    stacks.set(stage, stack);
  }
  return stack;
}

/** The function as serverless.yml declares it for the stage. */
export function stackFunction(name: string, stage: string = TEST_STAGE): StackFunction {
  const fn = stackOf(stage).functions.find((f) => f.name === name);
  if (!fn) throw new Error(`serverless.yml declares no function ${name}`);
  return fn;
}

/**
 * The environment serverless.yml gives the function, plus `overrides`. A value that is a CloudFormation
 * expression (a `!Ref` only a deployed stack resolves) must be given in `overrides`. The log level and
 * NODE_OPTIONS stay the test run's (setup-env.ts silences the logs).
 */
export function stageEnvironment(name: string, overrides: Record<string, string> = {}, stage: string = TEST_STAGE): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [key, value] of Object.entries(stackFunction(name, stage).environment)) {
    if (key === 'POWERTOOLS_LOG_LEVEL' || key === 'NODE_OPTIONS') continue;
    if (key in overrides) continue;
    if (typeof value !== 'string') throw new Error(`${name}: ${key} is a CloudFormation expression in serverless.yml; pass it in overrides`);
    environment[key] = value;
  }
  return { ...environment, ...overrides };
}

/**
 * Loads a function's handler module as Lambda would: its environment set first (configuration is read at
 * cold start), then the module. Call it in `beforeAll`, after the SDK mocks exist.
 *
 *   const { lambdaHandler } = loadHandler<typeof import('../../functions/activate-certificate/handler')>('activateCertificate');
 */
export function loadHandler<Module>(name: string, options: { environment?: Record<string, string>; stage?: string } = {}): Module {
  const stage = options.stage ?? TEST_STAGE;
  Object.assign(process.env, stageEnvironment(name, options.environment, stage));
  return require(resolve(PROJECT_ROOT, stackFunction(name, stage).modulePath)) as Module;
}

/**
 * AWS IoT operations that change state. Every name of an operation that reads starts with Describe, Get,
 * List, Search or Test (and the few others below); everything else changes something.
 */
const READ_ONLY = /^(Describe|Get|List|Search|Test|Validate)/;

/** The names of the state-changing IoT commands among `calls` (aws-sdk-client-mock's `mock.calls()`). */
export function mutatingIotCalls(calls: ReadonlyArray<{ args: readonly unknown[] }>): string[] {
  return calls.map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, '')).filter((name) => !READ_ONLY.test(name));
}

/** Every function of serverless.yml, by name, sorted: what the template tests expect to find, each in its own way. */
export const STACK_FUNCTIONS = [
  'activateCertificate',
  'certificateResource',
  'consoleActions',
  'consoleDevices',
  'consoleQueue',
  'expirySweep',
  'preProvisioningHook',
  'retireCertificate',
  'rotateCertificate',
  'rotationEvents',
  'vendCertificate',
  'vendProvisioningClaim',
] as const;
