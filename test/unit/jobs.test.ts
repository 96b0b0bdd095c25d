import { jobTemplateInput } from '../../local/deploy-stack';
import { iotAuthorization } from '../../local/iam/iot-actions';
import { IotError } from '../../local/iot-core/errors';
import { JobsMqtt } from '../../local/iot-core/jobs-mqtt';
import { IotRegistry } from '../../local/iot-core/registry/iot-registry';
import { JobsRejection, JobsService, type JobExecutionStatus } from '../../local/iot-core/registry/jobs';

/**
 * AWS IoT Jobs in the local IoT Core (local/iot-core/registry/jobs.ts): the execution state machine, version
 * checks, rollout pacing, abort criteria and timeouts, on a clock the test moves; and the Jobs MQTT API's
 * answers and notifications (jobs-mqtt.ts) without a broker.
 */

const ACCOUNT = '123456789012';
const arn = (resource: string) => `arn:aws:iot:us-east-1:${ACCOUNT}:${resource}`;
const DOCUMENT = JSON.stringify({ operation: 'rotate-certificate' });
const MINUTE = 60_000;

let clock: number;
let things: Set<string>;
let groups: Map<string, string[]>;
let jobs: JobsService;

beforeEach(() => {
  clock = Date.parse('2026-12-01T12:00:00Z');
  things = new Set(['t1', 't2', 't3', 't4', 't5']);
  groups = new Map([['fleet', ['t1', 't2', 't3']]]);
  jobs = new JobsService(
    { accountId: ACCOUNT, region: 'us-east-1', arn, now: () => new Date(clock) },
    {
      thingArnOf: (name) => (things.has(name) ? arn(`thing/${name}`) : undefined),
      thingsOfGroup: (name) => {
        const members = groups.get(name);
        if (!members) throw new IotError('ResourceNotFoundException', `no group ${name}`);
        return [...members];
      },
    },
  );
});

const statuses = (jobId: string) => jobs.listExecutionsForJob(jobId, { size: 250 }).items.map((e) => `${e.thingName}:${e.status}`);
const count = (jobId: string, status: JobExecutionStatus) => jobs.listExecutionsForJob(jobId, { size: 250 }, status).items.length;
const rejection = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    return error instanceof JobsRejection || error instanceof IotError ? error.code : error;
  }
  return 'no error';
};

describe('job executions', () => {
  it('queues one execution per targeted thing, thing groups resolved, each thing once', () => {
    jobs.createJob('j1', { targets: [arn('thinggroup/fleet'), arn('thing/t1'), arn('thing/t4')], document: DOCUMENT });

    expect(statuses('j1')).toEqual(['t1:QUEUED', 't2:QUEUED', 't3:QUEUED', 't4:QUEUED']);
    expect(jobs.describeJob('j1').jobProcessDetails).toMatchObject({ numberOfQueuedThings: 4, processingTargets: [] });
  });

  it('moves QUEUED → IN_PROGRESS → SUCCEEDED, one version per update, and completes the job', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1')], document: DOCUMENT });
    expect(jobs.describeExecution('j1', 't1')).toMatchObject({ status: 'QUEUED', versionNumber: 1 });

    const started = jobs.startNext('t1', { statusDetails: { step: 'csr' } });
    expect(started).toMatchObject({ jobId: 'j1', status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'csr' } });
    jobs.update('j1', 't1', { status: 'SUCCEEDED', expectedVersion: 2 });

    expect(jobs.describeExecution('j1', 't1')).toMatchObject({ status: 'SUCCEEDED', versionNumber: 3 });
    expect(jobs.describeJob('j1').job).toMatchObject({ status: 'COMPLETED', completedAt: new Date(clock) });
  });

  it('refuses a stale expectedVersion (VersionMismatch, with the execution state), a terminal execution and a status a device may not set', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1')], document: DOCUMENT });
    jobs.startNext('t1', {});

    expect(rejection(() => jobs.update('j1', 't1', { status: 'SUCCEEDED', expectedVersion: 1 }))).toBe('VersionMismatch');
    expect(rejection(() => jobs.update('j1', 't1', { status: 'TIMED_OUT' }))).toBe('InvalidRequest');
    expect(rejection(() => jobs.update('j1', 't1', { status: 'SUCCEEDED', statusDetails: { 'bad key!': 'x' } }))).toBe('InvalidRequest');
    expect(jobs.describeExecution('j1', 't1')).toMatchObject({ status: 'IN_PROGRESS', versionNumber: 2 });

    jobs.update('j1', 't1', { status: 'FAILED' });
    expect(rejection(() => jobs.update('j1', 't1', { status: 'IN_PROGRESS' }))).toBe('InvalidStateTransition');
    expect(rejection(() => jobs.update('j1', 't9', { status: 'IN_PROGRESS' }))).toBe('ResourceNotFound');
  });

  it('starts the oldest execution in progress before any queued one', () => {
    jobs.createJob('old', { targets: [arn('thing/t1')], document: DOCUMENT });
    clock += 1000;
    jobs.createJob('new', { targets: [arn('thing/t1')], document: DOCUMENT });
    jobs.update('new', 't1', { status: 'IN_PROGRESS' });

    expect(jobs.startNext('t1', {})?.jobId).toBe('new');
    jobs.update('new', 't1', { status: 'SUCCEEDED' });
    expect(jobs.startNext('t1', {})?.jobId).toBe('old');
    jobs.update('old', 't1', { status: 'SUCCEEDED' });
    expect(jobs.startNext('t1', {})).toBeUndefined();
  });
});

describe('rollout', () => {
  it('notifies maximumPerMinute things a minute', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1'), arn('thing/t2'), arn('thing/t3'), arn('thing/t4'), arn('thing/t5')], document: DOCUMENT, jobExecutionsRolloutConfig: { maximumPerMinute: 2 } });
    expect(statuses('j1')).toHaveLength(2);
    expect(jobs.describeJob('j1').jobProcessDetails.processingTargets).toHaveLength(5);

    clock += MINUTE - 1;
    expect(statuses('j1')).toHaveLength(2);
    clock += 1;
    expect(statuses('j1')).toHaveLength(4);
    clock += MINUTE;
    expect(statuses('j1')).toHaveLength(5);
    expect(jobs.describeJob('j1').jobProcessDetails.processingTargets).toEqual([]);
  });

  it('raises an exponential rate by incrementFactor once numberOfNotifiedThings more were notified', () => {
    things = new Set(Array.from({ length: 20 }, (_, i) => `d${i}`));
    jobs.createJob('j1', {
      targets: [...things].map((t) => arn(`thing/${t}`)),
      document: DOCUMENT,
      jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 2, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 2 } } },
    });
    const notified = [statuses('j1').length];
    for (let minute = 0; minute < 3; minute++) {
      clock += MINUTE;
      notified.push(statuses('j1').length);
    }
    // 2, then 4 more, then 8 more, then the last 6.
    expect(notified).toEqual([2, 6, 14, 20]);
  });

  it('raises it on numberOfSucceededThings successes only', () => {
    things = new Set(Array.from({ length: 10 }, (_, i) => `d${i}`));
    jobs.createJob('j1', {
      targets: [...things].map((t) => arn(`thing/${t}`)),
      document: DOCUMENT,
      jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 3, rateIncreaseCriteria: { numberOfSucceededThings: 1 } } },
    });
    clock += MINUTE;
    expect(statuses('j1')).toHaveLength(2);
    jobs.update('j1', 'd0', { status: 'SUCCEEDED' });
    clock += MINUTE;
    expect(statuses('j1')).toHaveLength(3);
    clock += MINUTE;
    // The success counted when the third batch went out: the rate is 3 now.
    expect(statuses('j1')).toHaveLength(6);
  });

  it('queues things that join a target group of a CONTINUOUS job, and never completes it', () => {
    jobs.createJob('j1', { targets: [arn('thinggroup/fleet')], targetSelection: 'CONTINUOUS', document: DOCUMENT });
    for (const t of ['t1', 't2', 't3']) jobs.update('j1', t, { status: 'SUCCEEDED' });
    expect(jobs.describeJob('j1').job.status).toBe('IN_PROGRESS');

    groups.get('fleet')!.push('t4');
    expect(statuses('j1')).toEqual(['t1:SUCCEEDED', 't2:SUCCEEDED', 't3:SUCCEEDED', 't4:QUEUED']);
    groups.set('fleet', ['t1']);
    expect(statuses('j1')).toContain('t4:REMOVED');
  });
});

describe('timeouts', () => {
  it('times out an execution inProgressTimeoutInMinutes after it started, not while it is queued', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1'), arn('thing/t2')], document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 10 } });
    clock += 60 * MINUTE;
    expect(statuses('j1')).toEqual(['t1:QUEUED', 't2:QUEUED']);

    jobs.update('j1', 't1', { status: 'IN_PROGRESS' });
    expect(jobs.describeExecution('j1', 't1').inProgressDeadline).toEqual(new Date(clock + 10 * MINUTE));
    clock += 10 * MINUTE - 1;
    expect(jobs.describeExecution('j1', 't1').status).toBe('IN_PROGRESS');
    clock += 1;
    expect(jobs.describeExecution('j1', 't1').status).toBe('TIMED_OUT');
    expect(rejection(() => jobs.update('j1', 't1', { status: 'SUCCEEDED' }))).toBe('InvalidStateTransition');
  });

  it('times out on a device step timer, which the next step replaces and -1 clears', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1')], document: DOCUMENT });
    jobs.startNext('t1', { stepTimeoutInMinutes: 2 });
    clock += MINUTE;
    jobs.update('j1', 't1', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 });
    clock += 90_000;
    expect(jobs.describeExecution('j1', 't1').status).toBe('IN_PROGRESS');
    jobs.update('j1', 't1', { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 });
    clock += 60 * MINUTE;
    expect(jobs.describeExecution('j1', 't1').status).toBe('IN_PROGRESS');
    jobs.update('j1', 't1', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1 });
    clock += MINUTE;
    expect(jobs.describeExecution('j1', 't1').status).toBe('TIMED_OUT');
    expect(rejection(() => jobs.update('j1', 't1', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 0 }))).toBe('InvalidStateTransition');
  });
});

describe('abort criteria', () => {
  const abortAt = (failureType: 'FAILED' | 'ALL', minNumberOfExecutedThings: number) => ({ criteriaList: [{ failureType, action: 'CANCEL' as const, thresholdPercentage: 50, minNumberOfExecutedThings }] });

  it('cancels the job once minNumberOfExecutedThings were notified and thresholdPercentage of them failed', () => {
    jobs.createJob('j1', {
      targets: ['t1', 't2', 't3', 't4', 't5'].map((t) => arn(`thing/${t}`)),
      document: DOCUMENT,
      abortConfig: abortAt('FAILED', 3),
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    });
    jobs.update('j1', 't1', { status: 'FAILED' });
    // 1 of 2 notified failed, but fewer than 3 were notified: the job goes on.
    expect(jobs.describeJob('j1').job.status).toBe('IN_PROGRESS');
    clock += MINUTE;
    // 1 of 4 notified.
    expect(jobs.describeJob('j1').job.status).toBe('IN_PROGRESS');
    jobs.update('j1', 't3', { status: 'IN_PROGRESS' });
    jobs.update('j1', 't2', { status: 'FAILED' });

    const { job, jobProcessDetails } = jobs.describeJob('j1');
    expect(job).toMatchObject({ status: 'CANCELED', reasonCode: 'ABORTED_FAILED' });
    // Queued executions are canceled, the one in progress carries on, the thing never notified never is.
    expect(statuses('j1')).toEqual(['t1:FAILED', 't2:FAILED', 't3:IN_PROGRESS', 't4:CANCELED']);
    expect(jobProcessDetails).toMatchObject({ numberOfFailedThings: 2, numberOfCanceledThings: 1, numberOfInProgressThings: 1, processingTargets: [] });
    clock += MINUTE;
    expect(statuses('j1')).toHaveLength(4);
  });

  it('counts rejections and timeouts as failures for ALL, not for FAILED', () => {
    jobs.createJob('all', { targets: ['t1', 't2', 't3'].map((t) => arn(`thing/${t}`)), document: DOCUMENT, abortConfig: abortAt('ALL', 2) });
    jobs.createJob('failed', { targets: ['t1', 't2', 't3'].map((t) => arn(`thing/${t}`)), document: DOCUMENT, abortConfig: abortAt('FAILED', 2) });
    for (const id of ['all', 'failed']) {
      jobs.update(id, 't1', { status: 'REJECTED' });
      jobs.update(id, 't2', { status: 'REJECTED' });
    }
    expect(jobs.describeJob('all').job.status).toBe('CANCELED');
    expect(jobs.describeJob('failed').job.status).toBe('IN_PROGRESS');
  });
});

describe('cancel and delete', () => {
  it('CancelJob cancels queued executions; with force, those in progress too', () => {
    jobs.createJob('soft', { targets: [arn('thing/t1'), arn('thing/t2')], document: DOCUMENT });
    jobs.createJob('hard', { targets: [arn('thing/t1'), arn('thing/t2')], document: DOCUMENT });
    for (const id of ['soft', 'hard']) jobs.update(id, 't1', { status: 'IN_PROGRESS' });

    jobs.cancelJob('soft', {});
    jobs.cancelJob('hard', { force: true });

    expect(statuses('soft')).toEqual(['t1:IN_PROGRESS', 't2:CANCELED']);
    expect(statuses('hard')).toEqual(['t1:CANCELED', 't2:CANCELED']);
    expect(jobs.describeExecution('hard', 't1').forceCanceled).toBe(true);
    expect(rejection(() => jobs.cancelJob('soft', {}))).toBe('InvalidRequestException');
  });

  it('CancelJobExecution checks the state and the version; DeleteJob needs force while the job is in progress', () => {
    jobs.createJob('j1', { targets: [arn('thing/t1'), arn('thing/t2')], document: DOCUMENT });
    jobs.update('j1', 't1', { status: 'IN_PROGRESS' });

    expect(rejection(() => jobs.cancelExecution('j1', 't1', {}))).toBe('InvalidStateTransitionException');
    expect(rejection(() => jobs.cancelExecution('j1', 't2', { expectedVersion: 5 }))).toBe('VersionConflictException');
    jobs.cancelExecution('j1', 't2', { expectedVersion: 1 });
    expect(rejection(() => jobs.deleteJob('j1', false))).toBe('InvalidStateTransitionException');
    jobs.deleteJob('j1', true);
    expect(rejection(() => jobs.describeJob('j1'))).toBe('ResourceNotFoundException');
  });
});

describe('bad input', () => {
  it('refuses a job without targets or document, with an unknown target, a taken id, or configurations out of range', () => {
    jobs.createJob('taken', { targets: [arn('thing/t1')], document: DOCUMENT });
    const cases: Array<[string, Parameters<JobsService['createJob']>[1], string]> = [
      ['no-targets', { targets: [], document: DOCUMENT }, 'InvalidRequestException'],
      ['no-document', { targets: [arn('thing/t1')] }, 'InvalidRequestException'],
      ['not-json', { targets: [arn('thing/t1')], document: '{' }, 'InvalidRequestException'],
      ['ghost', { targets: [arn('thing/ghost')], document: DOCUMENT }, 'ResourceNotFoundException'],
      ['ghost-group', { targets: [arn('thinggroup/ghost')], document: DOCUMENT }, 'ResourceNotFoundException'],
      ['foreign', { targets: ['arn:aws:iot:us-east-1:999999999999:thing/t1'], document: DOCUMENT }, 'InvalidRequestException'],
      ['taken', { targets: [arn('thing/t1')], document: DOCUMENT }, 'ResourceAlreadyExistsException'],
      ['rate', { targets: [arn('thing/t1')], document: DOCUMENT, jobExecutionsRolloutConfig: { maximumPerMinute: 0 } }, 'InvalidRequestException'],
      ['factor', { targets: [arn('thing/t1')], document: DOCUMENT, jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 9, rateIncreaseCriteria: { numberOfNotifiedThings: 1 } } } }, 'InvalidRequestException'],
      ['timeout', { targets: [arn('thing/t1')], document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 10_081 } }, 'InvalidRequestException'],
    ];
    expect(cases.map(([id, input]) => rejection(() => jobs.createJob(id, input)))).toEqual(cases.map(([, , code]) => code));
    // Nothing of the refused jobs stays.
    expect(jobs.listJobs({}).items.map((j) => j.jobId)).toEqual(['taken']);
  });

  it('takes the document and configurations of a job template, the call\'s own overriding them', () => {
    const template = jobs.createTemplate('rotation', { description: 'Rotation', document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 30 }, jobExecutionsRolloutConfig: { maximumPerMinute: 5 } });
    const job = jobs.createJob('j1', { targets: [arn('thing/t1')], jobTemplateArn: template.jobTemplateArn, jobExecutionsRolloutConfig: { maximumPerMinute: 50 } });
    expect(job).toMatchObject({ document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 30 }, jobExecutionsRolloutConfig: { maximumPerMinute: 50 }, jobTemplateArn: template.jobTemplateArn });
    expect(rejection(() => jobs.createTemplate('rotation', { description: 'again', document: DOCUMENT }))).toBe('ConflictException');
    expect(rejection(() => jobs.createJob('j2', { targets: [arn('thing/t1')], jobTemplateArn: arn('jobtemplate/none') }))).toBe('ResourceNotFoundException');
  });
});

describe('the Jobs MQTT API', () => {
  const registry = () => new IotRegistry({ region: 'us-east-1', defaultAccountId: ACCOUNT, now: () => new Date(clock) });

  it('answers get, start-next, <jobId>/get and update with the request\'s clientToken, and notifies on changes', () => {
    const account = registry().account(ACCOUNT);
    account.things.create('dev1', {});
    const sent: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    const api = new JobsMqtt((_, topic, payload) => sent.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }), 60_000);
    try {
      api.watch(account);
      account.jobs.createJob('j1', { targets: [account.arn('thing/dev1')], document: DOCUMENT });
      const ask = (topic: string, body: unknown) => api.handle(account, `$aws/things/dev1/jobs/${topic}`, Buffer.from(JSON.stringify(body)));

      expect(sent.map((s) => s.topic)).toEqual(['$aws/things/dev1/jobs/notify', '$aws/things/dev1/jobs/notify-next']);
      expect(sent[1]!.payload).toMatchObject({ execution: { jobId: 'j1', thingName: 'dev1', status: 'QUEUED', versionNumber: 1, jobDocument: { operation: 'rotate-certificate' } } });

      expect(ask('get', { clientToken: 'c1' })).toEqual({
        topic: '$aws/things/dev1/jobs/get/accepted',
        payload: { inProgressJobs: [], queuedJobs: [expect.objectContaining({ jobId: 'j1', versionNumber: 1 })], timestamp: clock / 1000, clientToken: 'c1' },
      });
      expect(ask('start-next', { clientToken: 'c2' })?.payload).toMatchObject({ execution: { jobId: 'j1', status: 'IN_PROGRESS', versionNumber: 2 }, clientToken: 'c2' });
      expect(ask('j1/update', { status: 'SUCCEEDED', expectedVersion: 1, clientToken: 'c3' })).toEqual({
        topic: '$aws/things/dev1/jobs/j1/update/rejected',
        payload: { code: 'VersionMismatch', message: expect.any(String), clientToken: 'c3', timestamp: clock / 1000, executionState: { status: 'IN_PROGRESS', statusDetails: {}, versionNumber: 2 } },
      });
      expect(ask('j1/update', { status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true })).toEqual({
        topic: '$aws/things/dev1/jobs/j1/update/accepted',
        payload: { executionState: { status: 'SUCCEEDED', statusDetails: {}, versionNumber: 3 }, timestamp: clock / 1000 },
      });
      expect(ask('j1/get', { includeJobDocument: false })?.payload).toMatchObject({ execution: { status: 'SUCCEEDED' } });
      expect(ask('j1/get', {})?.payload).toMatchObject({ execution: { jobDocument: { operation: 'rotate-certificate' } } });
      expect(ask('nope/get', {})?.payload).toMatchObject({ code: 'ResourceNotFound' });
      expect(ask('j1/frobnicate', {})?.payload).toMatchObject({ code: 'InvalidTopic' });
      expect(api.handle(account, '$aws/things/dev1/jobs/get', Buffer.from('{oops'))?.payload).toMatchObject({ code: 'InvalidJson' });
      // Done: the last notify-next says there is nothing next.
      expect(sent.at(-1)).toEqual({ topic: '$aws/things/dev1/jobs/notify-next', payload: { timestamp: clock / 1000 } });
    } finally {
      api.close();
    }
  });
});

describe('AWS::IoT::JobTemplate in the stack (local/deploy-stack.ts)', () => {
  it('becomes CreateJobTemplate\'s input: PascalCase to the API\'s names, ExponentialRolloutRate to exponentialRate, numbers as numbers', () => {
    const input = jobTemplateInput({
      JobTemplateId: 'rotation',
      Description: 'Certificate rotation',
      Document: DOCUMENT,
      JobExecutionsRolloutConfig: { ExponentialRolloutRate: { BaseRatePerMinute: 10, IncrementFactor: '1.5' as unknown as number, RateIncreaseCriteria: { NumberOfSucceededThings: 20 } }, MaximumPerMinute: 100 },
      AbortConfig: { CriteriaList: [{ Action: 'CANCEL', FailureType: 'ALL', MinNumberOfExecutedThings: 50, ThresholdPercentage: 10 }] },
      TimeoutConfig: { InProgressTimeoutInMinutes: 60 },
    });
    const template = jobs.createTemplate('rotation', input);

    expect(template).toMatchObject({
      jobTemplateArn: arn('jobtemplate/rotation'),
      description: 'Certificate rotation',
      document: DOCUMENT,
      jobExecutionsRolloutConfig: { maximumPerMinute: 100, exponentialRate: { baseRatePerMinute: 10, incrementFactor: 1.5, rateIncreaseCriteria: { numberOfSucceededThings: 20 } } },
      abortConfig: { criteriaList: [{ action: 'CANCEL', failureType: 'ALL', minNumberOfExecutedThings: 50, thresholdPercentage: 10 }] },
      timeoutConfig: { inProgressTimeoutInMinutes: 60 },
    });
    expect(rejection(() => jobs.createTemplate('bad', jobTemplateInput({ JobTemplateId: 'bad', Description: 'x', Document: DOCUMENT, TimeoutConfig: { InProgressTimeoutInMinutes: 0 } })))).toBe('InvalidRequestException');
  });
});

describe('IAM on the Jobs operations (local/iam/iot-actions.ts)', () => {
  it('evaluates CreateJob on the job and its template, DescribeJobExecution on the job and the thing, DescribeJobTemplate on the template', async () => {
    const names = (path: Record<string, string>, fields: Record<string, string> = {}) => ({ region: 'us-east-1', accountId: ACCOUNT, path, fields });
    const create = await iotAuthorization('CreateJob', names({ jobId: 'j1' }, { jobTemplateArn: arn('jobtemplate/rotation') }));
    expect(create.action).toBe('iot:CreateJob');
    expect([...create.resources].sort()).toEqual([arn('job/j1'), arn('jobtemplate/rotation')]);
    const execution = await iotAuthorization('DescribeJobExecution', names({ jobId: 'j1', thingName: 'dev1' }));
    expect([...execution.resources].sort()).toEqual([arn('job/j1'), arn('thing/dev1')]);
    expect(await iotAuthorization('DescribeJobTemplate', names({ jobTemplateId: 'rotation' }))).toEqual({ action: 'iot:DescribeJobTemplate', resources: [arn('jobtemplate/rotation')] });
  });
});

describe('Jobs events (events-jobs.html), published only for the enabled event types', () => {
  const setUp = () => {
    const registry = new IotRegistry({ region: 'us-east-1', defaultAccountId: ACCOUNT, now: () => new Date(clock) });
    const events: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    registry.publishEvent = (_, topic, payload) => events.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> });
    const account = registry.account(ACCOUNT);
    account.things.create('dev1', {});
    account.things.create('dev2', {});
    return { account, events };
  };

  it('are all off by default; DescribeEventConfigurations answers every type', () => {
    const { account, events } = setUp();
    account.jobs.createJob('j1', { targets: [arn('thing/dev1')], document: DOCUMENT });
    account.jobs.update('j1', 'dev1', { status: 'SUCCEEDED' });

    expect(events).toEqual([]);
    const { eventConfigurations } = account.eventConfigurations.describe();
    expect(Object.keys(eventConfigurations)).toHaveLength(11);
    expect(Object.values(eventConfigurations).every((c) => c.Enabled === false)).toBe(true);
  });

  it('publishes an execution\'s end and the job\'s completion with the documented fields', () => {
    const { account, events } = setUp();
    account.eventConfigurations.update({ JOB: { Enabled: true }, JOB_EXECUTION: { Enabled: true } });
    account.jobs.createJob('j1', { targets: [arn('thing/dev1')], document: DOCUMENT });
    account.jobs.update('j1', 'dev1', { status: 'IN_PROGRESS' });
    expect(events).toEqual([]);

    account.jobs.update('j1', 'dev1', { status: 'SUCCEEDED', statusDetails: { step: 'done' } });

    expect(events.map((e) => e.topic)).toEqual(['$aws/events/jobExecution/j1/succeeded', '$aws/events/job/j1/completed']);
    expect(events[0]!.payload).toEqual({
      eventType: 'JOB_EXECUTION',
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      timestamp: clock / 1000,
      operation: 'succeeded',
      jobId: 'j1',
      thingArn: arn('thing/dev1'),
      status: 'SUCCEEDED',
      statusDetails: { step: 'done' },
    });
    expect(events[1]!.payload).toMatchObject({ eventType: 'JOB', operation: 'completed', jobId: 'j1', status: 'COMPLETED', targetSelection: 'SNAPSHOT', targets: [arn('thing/dev1')] });
    expect(events[0]!.payload.eventId).not.toEqual(events[1]!.payload.eventId);
  });

  it('publishes only the enabled type; disabling it again stops it', () => {
    const { account, events } = setUp();
    account.eventConfigurations.update({ JOB_EXECUTION: { Enabled: true } });
    account.jobs.createJob('j1', { targets: [arn('thing/dev1'), arn('thing/dev2')], document: DOCUMENT });
    account.jobs.update('j1', 'dev1', { status: 'REJECTED' });
    account.eventConfigurations.update({ JOB_EXECUTION: { Enabled: false } });
    account.jobs.update('j1', 'dev2', { status: 'FAILED' });

    expect(events.map((e) => e.topic)).toEqual(['$aws/events/jobExecution/j1/rejected']);
  });

  it('CancelJob: cancellation_in_progress, the canceled executions, canceled; DeleteJob: deletion_in_progress, the deleted executions, deleted', () => {
    const { account, events } = setUp();
    account.eventConfigurations.update({ JOB: { Enabled: true }, JOB_EXECUTION: { Enabled: true } });
    account.jobs.createJob('j1', { targets: [arn('thing/dev1')], document: DOCUMENT });
    account.jobs.cancelJob('j1', {});
    account.jobs.deleteJob('j1', false);

    expect(events.map((e) => `${e.topic} ${String(e.payload.status)}`)).toEqual([
      '$aws/events/job/j1/cancellation_in_progress IN_PROGRESS',
      '$aws/events/jobExecution/j1/canceled CANCELED',
      '$aws/events/job/j1/canceled CANCELED',
      '$aws/events/job/j1/deletion_in_progress DELETION_IN_PROGRESS',
      '$aws/events/jobExecution/j1/deleted CANCELED',
      '$aws/events/job/j1/deleted DELETION_IN_PROGRESS',
    ]);
  });

  it('refuses an unknown event type or a non-boolean Enabled, and changes nothing', () => {
    const { account } = setUp();
    expect(() => account.eventConfigurations.update({ JOB: { Enabled: true }, JOBS: { Enabled: true } })).toThrow(/JOBS is not an event type/);
    expect(() => account.eventConfigurations.update({ JOB: { Enabled: 'yes' } })).toThrow(/must be a boolean/);
    expect(account.eventConfigurations.isEnabled('JOB')).toBe(false);
  });
});
