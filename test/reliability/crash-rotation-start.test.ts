import { DescribeEventConfigurationsCommand, ListJobsCommand, ListThingsInThingGroupCommand, UpdateEventConfigurationsCommand } from '@aws-sdk/client-iot';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { iotCalls } from '../../shared/aws/iot/calls';
import { createRotationJob, createThingGroup, describeRotationJob, enableJobExecutionEvents, jobExecutionEventsEnabled } from '../../shared/aws/iot/rotation-jobs';
import { addThingToThingGroup } from '../../shared/aws/iot/things';
import { getDevice } from '../../shared/aws/registry/entries';
import { queueRotation } from '../../shared/aws/registry/rotation-start';
import { appendTimelineEvent, listTimelineEvents } from '../../shared/aws/timeline/events';
import { startRotation, type RotationStartDeps } from '../../shared/rotation/start';
import { FaultInjector, InjectedCrash } from '../support/fault-injection';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import namesModule = require('../../resources/names.cjs');

/**
 * The rotation's start (design §1 S0) when the process dies right after any of its calls — to DynamoDB and
 * the local IoT Core through the real adapters — and then the same start is run again, as an operator does
 * after an interrupted `rotate` (or Lambda after a sweep that timed out): every device queued once with one
 * timeline event, all of them in the group, one job from the template, Jobs events on.
 */

let stack: LocalStack;
let jobTemplateArn: string;

beforeAll(async () => {
  stack = await startLocalStack();
  const names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
  jobTemplateArn = `arn:aws:iot:${stack.deployed.stack.region}:${stack.core.defaultAccount.accountId}:jobtemplate/${names.rotationJobTemplate}`;
}, 60_000);

afterAll(async () => {
  await stack.close();
});

function deps(faults: FaultInjector): RotationStartDeps {
  const documents = createDocumentClient();
  const iot = createIotClient();
  return {
    registry: faults.wrap(bindCalls({ client: documents, tableName: stack.deployed.tableName }, { get: getDevice, queueRotation }), 'registry'),
    iot: faults.wrap(iotCalls(iot, { createThingGroup, addThingToThingGroup, jobExecutionEventsEnabled, enableJobExecutionEvents, createRotationJob, describeRotationJob }), 'iot'),
    timeline: faults.wrap(bindCalls({ client: documents, tableName: stack.deployed.timelineTableName }, { append: appendTimelineEvent }), 'timeline'),
    jobTemplateArn,
    actor: { kind: 'cli', id: 'crash-test' },
    now: () => new Date(),
  };
}

const STEPS = [
  'registry.queueRotation',
  'timeline.append',
  'iot.createThingGroup',
  'iot.addThingToThingGroup',
  'iot.jobExecutionEventsEnabled',
  'iot.enableJobExecutionEvents',
  'iot.createRotationJob',
] as const;

let wave = 0;

describe.each(STEPS)('a crash right after %s', (step) => {
  it('then the same start again converges', async () => {
    const n = ++wave;
    const jobId = `rotate-crash-${n}`;
    const devices = [`CRASH-${n}-A`, `CRASH-${n}-B`];
    for (const id of devices) {
      // Bound by JITR.
      stack.core.firstConnect(stack.chain(await stack.device(id, { registry: 'allow' })), stack.dataEndpoint);
      await stack.core.idle();
    }
    // Each wave after the first finds Jobs events already on: make the enabling step run again for its case.
    if (step === 'iot.enableJobExecutionEvents') await stack.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: false } } }));

    const faults = new FaultInjector({ step, how: 'crash' });
    await expect(startRotation(deps(faults), { jobId, deviceIds: devices })).rejects.toThrow(InjectedCrash);
    expect(faults.crashed).toBe(true);

    const result = await startRotation(deps(new FaultInjector()), { jobId, deviceIds: devices });
    expect(result).toMatchObject({ queued: devices, leftOut: [] });
    expect(['created', 'exists']).toContain(result.job);

    for (const id of devices) {
      const entry = await stack.registry.get(id);
      expect(entry?.rotation).toMatchObject({ jobId, state: 'queued', previousCertificateId: entry!.certificateId });
      const events = await listTimelineEvents({ client: createDocumentClient(), tableName: stack.deployed.timelineTableName }, id);
      expect(events.filter((e) => e.type === 'rotation-queued')).toHaveLength(1);
    }
    const members = (await stack.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: `rotation-${jobId}` }))).things ?? [];
    expect(members.sort()).toEqual(devices);
    const jobs = ((await stack.iot.send(new ListJobsCommand({}))).jobs ?? []).filter((j) => j.jobId === jobId);
    expect(jobs).toHaveLength(1);
    expect((await stack.iot.send(new DescribeEventConfigurationsCommand({}))).eventConfigurations?.JOB_EXECUTION?.Enabled).toBe(true);
  }, 30_000);
});
