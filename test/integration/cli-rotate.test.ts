import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AddThingToThingGroupCommand,
  AttachThingPrincipalCommand,
  CancelJobCommand,
  CreateKeysAndCertificateCommand,
  CreateThingGroupCommand,
  DescribeEventConfigurationsCommand,
  DescribeJobCommand,
  DisableTopicRuleCommand,
  EnableTopicRuleCommand,
  GetTopicRuleCommand,
  ListJobExecutionsForJobCommand,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import { writeIssuedRotation } from '../support/rotation-state';
import { DAY_MS } from '../../shared/expiry/sweep';
import { startCliStack, type CliStack } from '../support/cli-stack';
import namesModule = require('../../resources/names.cjs');

/**
 * `npx iot-provisioner rotate` and `rotate status` against the local IoT Core (the stack deployed from
 * serverless.yml, its job template included): the job made from the stack's template, the registry's
 * queued rotations, the wave's thing group, the devices left out with why.
 */

let stack: CliStack;
let ca: KeyedCertificate;
let templateArn: string;
let names: ReturnType<typeof namesModule.namesFor>;
const cli = (...args: string[]) => stack.cli(...args);

beforeAll(async () => {
  stack = await startCliStack();
  ca = await stack.registerCa('CLI rotate CA');
  names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
  templateArn = `arn:aws:iot:${stack.core.endpoints.region}:${stack.core.endpoints.accountId}:jobtemplate/${names.rotationJobTemplate}`;
}, 60_000);

afterAll(async () => {
  await stack.close();
});

/** A device bound by JITR, with its certificate's validity. */
async function provisioned(deviceId: string, validity: { notBefore?: Date; notAfter?: Date } = {}): Promise<KeyedCertificate> {
  expect((await cli('devices', 'allow', deviceId, ...stack.local)).code).toBe(0);
  const device = await issueCertificate(ca, { subject: { serialNumber: deviceId }, ...validity });
  stack.core.firstConnect(deviceChain(device, ca), stack.dataEndpoint);
  await stack.core.idle();
  expect((await stack.describe(device.certificateId)).status).toBe('ACTIVE');
  return device;
}

const groupMembers = async (group: string) => ((await stack.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group }))).things ?? []).sort();

describe('iot-provisioner rotate', () => {
  it('--devices: creates the job from the stack’s template for the wave’s group, queues the devices, reports the others', async () => {
    const d1 = await provisioned('ROT-CLI-1');
    await provisioned('ROT-CLI-2');
    await provisioned('ROT-CLI-SUSP');
    expect((await cli('devices', 'suspend', 'ROT-CLI-SUSP', ...stack.local)).code).toBe(0);
    expect((await cli('devices', 'allow', 'ROT-CLI-UNBOUND', ...stack.local)).code).toBe(0);
    const events = async () => (await stack.iot.send(new DescribeEventConfigurationsCommand({}))).eventConfigurations?.JOB_EXECUTION?.Enabled ?? false;
    expect(await events()).toBe(false);

    const run = await cli('rotate', '--devices', 'ROT-CLI-1,ROT-CLI-2,ROT-CLI-SUSP,ROT-CLI-UNBOUND,ROT-CLI-GHOST', '--job-id', 'rotate-cli-1', ...stack.local);
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain(`job rotate-cli-1 created from ${templateArn} for thing group rotation-rotate-cli-1`);
    expect(run.out).toContain('queued: 2 (ROT-CLI-1, ROT-CLI-2)');
    expect(run.out).toContain('left out: 3');
    expect(run.out).toMatch(/ROT-CLI-SUSP {2}suspended/);
    expect(run.out).toMatch(/ROT-CLI-UNBOUND {2}not-bound/);
    expect(run.out).toMatch(/ROT-CLI-GHOST {2}unknown-device/);

    // The job: the template's document, rollout, abort and timeout; the group as its target, SNAPSHOT.
    const { job } = await stack.iot.send(new DescribeJobCommand({ jobId: 'rotate-cli-1' }));
    // DescribeJob does not return the document (GetJobDocument does; the local IoT Core has the job itself).
    const local = stack.core.registry.account(stack.core.endpoints.accountId).jobs.describeJob('rotate-cli-1').job;
    expect(JSON.parse(local.document ?? '{}')).toEqual({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' });
    expect(job).toMatchObject({
      jobId: 'rotate-cli-1',
      jobTemplateArn: templateArn,
      targetSelection: 'SNAPSHOT',
      targets: [expect.stringMatching(/:thinggroup\/rotation-rotate-cli-1$/)],
      jobExecutionsRolloutConfig: { maximumPerMinute: 100, exponentialRate: { baseRatePerMinute: 10, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 50 } } },
      abortConfig: { criteriaList: [{ action: 'CANCEL', failureType: 'ALL', thresholdPercentage: 10, minNumberOfExecutedThings: 20 }] },
      timeoutConfig: { inProgressTimeoutInMinutes: 60 },
    });
    expect(await groupMembers('rotation-rotate-cli-1')).toEqual(['ROT-CLI-1', 'ROT-CLI-2']);
    expect(await events()).toBe(true);

    // The registry: queued with the certificate that keeps working until the commit; the binding untouched.
    const entry = await stack.registry.get('ROT-CLI-1');
    expect(entry).toMatchObject({ bindingState: 'bound', certificateId: d1.certificateId, rotation: { jobId: 'rotate-cli-1', state: 'queued', previousCertificateId: d1.certificateId } });
    expect((await stack.registry.get('ROT-CLI-SUSP'))?.rotation).toBeUndefined();
    expect((await stack.registry.get('ROT-CLI-UNBOUND'))?.rotation).toBeUndefined();
    const timeline = await cli('devices', 'timeline', 'ROT-CLI-1', ...stack.local);
    expect(timeline.out.split('\n').filter((l) => l.includes('rotation-queued'))).toHaveLength(1);

    // The same start again (an interrupted run finished): nothing new.
    const again = await cli('rotate', '--devices', 'ROT-CLI-1,ROT-CLI-2', '--job-id', 'rotate-cli-1', ...stack.local);
    expect(again.code).toBe(0);
    expect(again.out).toContain('job rotate-cli-1 already created');
    expect(again.out).toContain('queued: 2 (ROT-CLI-1, ROT-CLI-2)');
    expect((await cli('devices', 'timeline', 'ROT-CLI-1', ...stack.local)).out.split('\n').filter((l) => l.includes('rotation-queued'))).toHaveLength(1);

    // Another rotation for a device already rotating: left out, not fatal to the others.
    const other = await cli('rotate', '--devices', 'ROT-CLI-1', '--job-id', 'rotate-cli-other', ...stack.local);
    expect(other.code).toBe(1);
    expect(other.out).toContain('job rotate-cli-other not created: no device can rotate');
    expect(other.out).toMatch(/ROT-CLI-1 {2}rotation-open {2}rotate-cli-1 is queued/);

    // rotate status: the executions (QUEUED or IN_PROGRESS as the rollout hands them out) and the registry.
    const executions = (await stack.iot.send(new ListJobExecutionsForJobCommand({ jobId: 'rotate-cli-1' }))).executionSummaries ?? [];
    expect(executions.length).toBeGreaterThan(0);
    const status = await cli('rotate', 'status', 'rotate-cli-1', ...stack.local);
    expect(status.code).toBe(0);
    expect(status.out).toContain('job rotate-cli-1: IN_PROGRESS');
    expect(status.out).toContain('queued 2, in progress 0, succeeded 0, rolled back 0, refused 0');
    expect(status.out).toMatch(/ROT-CLI-1 +queued +queued +QUEUED/);
    const json = JSON.parse((await cli('rotate', 'status', 'rotate-cli-1', '--json', ...stack.local)).out);
    expect(json.devices.map((d: { deviceId: string; view: string }) => [d.deviceId, d.view])).toEqual([
      ['ROT-CLI-1', 'queued'],
      ['ROT-CLI-2', 'queued'],
    ]);
    expect(json.job).toMatchObject({ status: 'IN_PROGRESS', jobTemplateArn: templateArn });
  }, 60_000);

  it('--thing-group, --devices @file and --dry-run', async () => {
    await provisioned('ROT-GRP-1');
    await provisioned('ROT-GRP-2');
    await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'line-7' }));
    for (const thing of ['ROT-GRP-1', 'ROT-GRP-2']) await stack.iot.send(new AddThingToThingGroupCommand({ thingName: thing, thingGroupName: 'line-7' }));

    const dry = await cli('rotate', '--thing-group', 'line-7', '--job-id', 'rotate-grp', '--dry-run', ...stack.local);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('dry run: job rotate-grp would rotate 2 device(s); nothing written');
    expect((await stack.registry.get('ROT-GRP-1'))?.rotation).toBeUndefined();
    await expect(stack.iot.send(new DescribeJobCommand({ jobId: 'rotate-grp' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    const run = await cli('rotate', '--thing-group', 'line-7', '--job-id', 'rotate-grp', ...stack.local);
    expect(run.code).toBe(0);
    expect(run.out).toContain('queued: 2 (ROT-GRP-1, ROT-GRP-2)');
    expect(await groupMembers('rotation-rotate-grp')).toEqual(['ROT-GRP-1', 'ROT-GRP-2']);

    expect((await cli('rotate', '--thing-group', 'no-such-group', '--job-id', 'rotate-none', ...stack.local))).toMatchObject({ code: 1, err: expect.stringContaining('thing group no-such-group does not exist') });

    const file = join(stack.dir, 'devices.txt');
    writeFileSync(file, '# wave 3\nROT-GRP-1\nnot a device!\n');
    expect(await cli('rotate', '--devices', `@${file}`, ...stack.local)).toMatchObject({ code: 2, err: expect.stringContaining('not device ids') });
    expect(await cli('rotate', '--devices', 'A', '--thing-group', 'line-7', ...stack.local)).toMatchObject({ code: 2, err: expect.stringContaining('exactly one of') });
    expect(await cli('rotate', '--devices', 'A', '--job-id', 'wave-1', ...stack.local)).toMatchObject({ code: 1, err: expect.stringContaining('must start with "rotate-"') });
  }, 60_000);

  it('--expiring-within: the devices whose certificate expires within N days, from the registry’s expiry index', async () => {
    const now = Date.now();
    await provisioned('ROT-EXP-SOON', { notBefore: new Date(now - 300 * DAY_MS), notAfter: new Date(now + 5 * DAY_MS) });
    await provisioned('ROT-EXP-LATER', { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 400 * DAY_MS) });
    const run = await cli('rotate', '--expiring-within', '10', '--job-id', 'rotate-exp', ...stack.local);
    expect(run.code).toBe(0);
    expect(run.out).toContain('queued: 1 (ROT-EXP-SOON)');
    expect(await groupMembers('rotation-rotate-exp')).toEqual(['ROT-EXP-SOON']);
    expect((await stack.registry.get('ROT-EXP-LATER'))?.rotation).toBeUndefined();
  }, 60_000);

  it('rotate status --repair: a queued device whose execution ended without a CSR goes back to no open rotation', async () => {
    await provisioned('ROT-REP-1');
    expect((await cli('rotate', '--devices', 'ROT-REP-1', '--job-id', 'rotate-rep', ...stack.local)).code).toBe(0);
    // The operator cancels the job before the device took it.
    await stack.iot.send(new CancelJobCommand({ jobId: 'rotate-rep', force: true }));
    const before = await cli('rotate', 'status', 'rotate-rep', ...stack.local);
    expect(before.out).toMatch(/ROT-REP-1 +queued/);
    const repaired = await cli('rotate', 'status', 'rotate-rep', '--repair', ...stack.local);
    expect(repaired.code).toBe(0);
    expect(repaired.out).toMatch(/ROT-REP-1 +rolled back +rolled-back +\S+ +not-notified \(repaired\)/);
    expect((await stack.registry.get('ROT-REP-1'))?.rotation).toMatchObject({ jobId: 'rotate-rep', state: 'rolled-back', reason: 'not-notified' });
    // Free for the next rotation.
    expect((await cli('rotate', '--devices', 'ROT-REP-1', '--job-id', 'rotate-rep-2', ...stack.local)).out).toContain('queued: 1 (ROT-REP-1)');
    expect(await cli('rotate', 'status', 'rotate-nothing', ...stack.local)).toMatchObject({ code: 1, err: expect.stringContaining('no rotation job rotate-nothing') });
  }, 60_000);

  it('rotate status --repair: an execution that ended while its Jobs event was lost (the rule disabled) is handed to the commit again, which rolls back', async () => {
    const device = await provisioned('ROT-LOST-1');
    expect((await cli('rotate', '--devices', 'ROT-LOST-1', '--job-id', 'rotate-lost', ...stack.local)).code).toBe(0);
    // As the CSR step leaves it: a new certificate, ACTIVE and attached to the thing, the rotation issued.
    const created = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: 'ROT-LOST-1', principal: created.certificateArn! }));
    await writeIssuedRotation(createDocumentClient(), stack.deployed.tableName, 'ROT-LOST-1', {
      jobId: 'rotate-lost',
      previousCertificateId: device.certificateId,
      newCertificateId: created.certificateId!,
      newCertificateArn: created.certificateArn!,
    });
    // The Jobs-event rule disabled (maintenance) while the job is canceled: the CANCELED event reaches no one.
    const rule = names.rotationJobExecutionRule;
    await stack.iot.send(new DisableTopicRuleCommand({ ruleName: rule }));
    expect((await stack.iot.send(new GetTopicRuleCommand({ ruleName: rule }))).rule?.ruleDisabled).toBe(true);
    await stack.iot.send(new CancelJobCommand({ jobId: 'rotate-lost', force: true }));
    await stack.core.idle();
    await stack.iot.send(new EnableTopicRuleCommand({ ruleName: rule }));
    expect((await stack.registry.get('ROT-LOST-1'))?.rotation?.state).toBe('issued');
    expect((await cli('rotate', 'status', 'rotate-lost', ...stack.local)).out).toMatch(/ROT-LOST-1 +in progress +issued +CANCELED$/m);

    const repaired = await cli('rotate', 'status', 'rotate-lost', '--repair', ...stack.local);
    expect(repaired).toMatchObject({ code: 0, err: '' });
    expect(repaired.out).toMatch(/ROT-LOST-1 +in progress +issued +CANCELED +\(re-sent CANCELED to the commit\)$/m);
    await stack.core.idle();
    expect((await stack.registry.get('ROT-LOST-1'))?.rotation).toMatchObject({ jobId: 'rotate-lost', state: 'rolled-back', reason: 'CANCELED' });
    expect(await stack.describe(created.certificateId!)).toMatchObject({ status: 'REVOKED', things: [] });
    expect(await stack.describe(device.certificateId)).toMatchObject({ status: 'ACTIVE', things: ['ROT-LOST-1'] });
    // Applied now: a second --repair has nothing to hand over.
    const again = await cli('rotate', 'status', 'rotate-lost', '--repair', ...stack.local);
    expect(again.out).toMatch(/ROT-LOST-1 +rolled back +rolled-back +CANCELED +CANCELED$/m);
    expect(again.out).not.toContain('re-sent');
  }, 60_000);
});
