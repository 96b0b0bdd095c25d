import {
  CancelJobCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  DescribeEventConfigurationsCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  UpdateEventConfigurationsCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { connectOnce, disconnect, type Endpoint, type Identity, type MqttVersion } from '../../device/mqtt-connection';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * AWS IoT Jobs end to end against the local IoT Core: the operator through the AWS SDK (@aws-sdk/client-iot),
 * devices through MQTT.js over real mutual TLS with the stack's device policy (JITR devices), MQTT 5 and 3.1.1:
 * notify-next, start-next, update, version checks, timeouts, abort criteria, cancel, and the policy keeping a
 * device to its own thing's job topics.
 */

let stack: LocalStack;
let endpoint: Endpoint;
let clockOffsetMs = 0;
const DOCUMENT = JSON.stringify({ operation: 'rotate-certificate', version: 1 });
const identities = new Map<string, Identity>();
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 }, now: () => new Date(Date.now() + clockOffsetMs) } });
  endpoint = stack.endpoint!;
  // Devices provisioned by JITR: thing, certificate ACTIVE, the stack's device policy attached.
  for (const id of ['JOBS-1', 'JOBS-2', 'JOBS-3']) {
    const device = await stack.device(id, { registry: 'allow' });
    const identity = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem };
    await connectOnce(endpoint, identity, id);
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');
    identities.set(id, identity);
  }
});

afterAll(async () => {
  await stack.close();
});

afterEach(async () => {
  clockOffsetMs = 0;
  await Promise.all(clients.splice(0).map((client) => disconnect(client)));
});

const thingArn = (thingName: string) => stack.core.registry.account(stack.accountId).arn(`thing/${thingName}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Device {
  client: MqttClient;
  /** The next message on the topic (one already received counts), as JSON. */
  next(topic: string, ms?: number): Promise<Record<string, unknown>>;
  /** Publishes a request and waits for its accepted or rejected answer (the device need not subscribe: AWS sends them anyway). */
  ask(request: string, body?: Record<string, unknown>): Promise<{ outcome: 'accepted' | 'rejected'; payload: Record<string, unknown> }>;
  received: Array<{ topic: string; payload: Record<string, unknown> }>;
}

async function device(thingName: string, mqtt: MqttVersion = '5'): Promise<Device> {
  const { client, error } = await connectOnce({ ...endpoint, mqtt }, identities.get(thingName)!, thingName);
  if (!client) throw new Error(`${thingName}: ${error}`);
  clients.push(client);
  const received: Device['received'] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  const prefix = `$aws/things/${thingName}/jobs`;
  let seen = 0;
  const next: Device['next'] = async (topic, ms = 5_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = received.findIndex((m, i) => i >= seen && m.topic === topic);
      if (index >= 0) {
        seen = index + 1;
        return received[index]!.payload;
      }
      if (Date.now() > deadline) throw new Error(`${thingName}: nothing on ${topic}; got ${JSON.stringify(received.map((m) => m.topic))}`);
      await sleep(20);
    }
  };
  let tokens = 0;
  const ask: Device['ask'] = async (request, body = {}) => {
    const clientToken = `${thingName}-${++tokens}`;
    const topic = `${prefix}/${request}`;
    await client.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    const deadline = Date.now() + 5_000;
    for (;;) {
      const answer = received.find((m) => (m.topic === `${topic}/accepted` || m.topic === `${topic}/rejected`) && m.payload.clientToken === clientToken);
      if (answer) return { outcome: answer.topic.endsWith('/accepted') ? 'accepted' : 'rejected', payload: answer.payload };
      if (Date.now() > deadline) throw new Error(`${thingName}: no answer to ${request}`);
      await sleep(20);
    }
  };
  return { client, next, ask, received };
}

let jobs = 0;
async function createJob(targets: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const jobId = `jobs-it-${++jobs}`;
  await stack.iot.send(new CreateJobCommand({ jobId, targets: targets.map(thingArn), document: DOCUMENT, ...extra }));
  return jobId;
}

/** Finishes the thing's pending executions of earlier tests, so that each test starts with none. */
async function drain(thingName: string): Promise<void> {
  const { executionSummaries } = await stack.iot.send(new ListJobExecutionsForThingCommand({ thingName }));
  for (const { jobId, jobExecutionSummary } of executionSummaries ?? []) {
    if (jobExecutionSummary?.status === 'QUEUED' || jobExecutionSummary?.status === 'IN_PROGRESS') await stack.iot.send(new CancelJobCommand({ jobId, force: true }));
  }
}

beforeEach(async () => {
  for (const id of identities.keys()) await drain(id);
});

describe('a job for three things', () => {
  it('notifies each device (notify-next), which starts it, updates it to SUCCEEDED, and the job completes', async () => {
    const devices = [await device('JOBS-1', '5'), await device('JOBS-2', '3.1.1'), await device('JOBS-3', '5')];
    for (const [i, d] of devices.entries()) await d.client.subscribeAsync(`$aws/things/JOBS-${i + 1}/jobs/notify-next`, { qos: 1 });
    const { jobTemplateArn } = await stack.iot.send(
      new CreateJobTemplateCommand({ jobTemplateId: 'rotation-it', description: 'Certificate rotation', document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 30 } }),
    );
    const jobId = `jobs-it-${++jobs}`;
    await stack.iot.send(new CreateJobCommand({ jobId, targets: ['JOBS-1', 'JOBS-2', 'JOBS-3'].map(thingArn), jobTemplateArn }));

    for (const [i, d] of devices.entries()) {
      const thingName = `JOBS-${i + 1}`;
      const notified = await d.next(`$aws/things/${thingName}/jobs/notify-next`);
      expect(notified).toEqual({ timestamp: expect.any(Number), execution: expect.objectContaining({ jobId, thingName, status: 'QUEUED', versionNumber: 1, jobDocument: JSON.parse(DOCUMENT) }) });

      const started = await d.ask('start-next', { statusDetails: { step: 'csr' } });
      expect(started).toEqual({
        outcome: 'accepted',
        payload: expect.objectContaining({ execution: expect.objectContaining({ jobId, status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'csr' }, approximateSecondsBeforeTimedOut: 1800 }) }),
      });
      const done = await d.ask(`${jobId}/update`, { status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true });
      expect(done).toEqual({ outcome: 'accepted', payload: expect.objectContaining({ executionState: { status: 'SUCCEEDED', statusDetails: { step: 'csr' }, versionNumber: 3 } }) });
      // Nothing is next any more.
      expect(await d.next(`$aws/things/${thingName}/jobs/notify-next`)).toEqual({ timestamp: expect.any(Number) });
    }

    const { job } = await stack.iot.send(new DescribeJobCommand({ jobId }));
    expect(job).toMatchObject({ status: 'COMPLETED', jobTemplateArn, timeoutConfig: { inProgressTimeoutInMinutes: 30 }, jobProcessDetails: { numberOfSucceededThings: 3, numberOfQueuedThings: 0 } });
    const { execution } = await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: 'JOBS-2' }));
    expect(execution).toMatchObject({ status: 'SUCCEEDED', versionNumber: 3, statusDetails: { detailsMap: { step: 'csr' } } });
  });

  it('refuses an update with a stale expectedVersion (VersionMismatch, with the execution state), over MQTT 3.1.1 too', async () => {
    for (const mqtt of ['5', '3.1.1'] as const) {
      const d = await device('JOBS-2', mqtt);
      const jobId = await createJob(['JOBS-2']);
      expect((await d.ask('start-next')).outcome).toBe('accepted');

      const stale = await d.ask(`${jobId}/update`, { status: 'SUCCEEDED', expectedVersion: 1 });
      expect(stale).toEqual({
        outcome: 'rejected',
        payload: { code: 'VersionMismatch', message: expect.any(String), clientToken: expect.any(String), timestamp: expect.any(Number), executionState: { status: 'IN_PROGRESS', statusDetails: {}, versionNumber: 2 } },
      });
      expect((await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: 'JOBS-2' }))).execution?.status).toBe('IN_PROGRESS');
      expect((await d.ask(`${jobId}/update`, { status: 'SUCCEEDED', expectedVersion: 2 })).outcome).toBe('accepted');
      expect((await d.ask(`${jobId}/update`, { status: 'IN_PROGRESS' })).payload).toMatchObject({ code: 'InvalidStateTransition', executionState: { status: 'SUCCEEDED' } });
      await disconnect(d.client);
    }
  });
});

describe('a device that was offline', () => {
  it('finds the job queued for it when it connects: get, $next/get, then start-next', async () => {
    const jobId = await createJob(['JOBS-3']);
    const d = await device('JOBS-3', '3.1.1');

    const pending = await d.ask('get');
    expect(pending.payload).toMatchObject({ inProgressJobs: [], queuedJobs: [expect.objectContaining({ jobId, versionNumber: 1, executionNumber: expect.any(Number) })] });
    const described = await d.ask('$next/get', { includeJobDocument: true });
    expect(described.payload).toMatchObject({ execution: { jobId, status: 'QUEUED', jobDocument: JSON.parse(DOCUMENT) } });
    expect((await d.ask('start-next')).payload).toMatchObject({ execution: { jobId, status: 'IN_PROGRESS' } });
    expect((await d.ask('get')).payload).toMatchObject({ inProgressJobs: [expect.objectContaining({ jobId })], queuedJobs: [] });
  });
});

describe('timeouts, abort and cancel', () => {
  it('times an execution out inProgressTimeoutInMinutes after the device started it', async () => {
    const d = await device('JOBS-3');
    await d.client.subscribeAsync('$aws/things/JOBS-3/jobs/notify', { qos: 1 });
    const jobId = await createJob(['JOBS-3'], { timeoutConfig: { inProgressTimeoutInMinutes: 1 } });
    await d.ask('start-next');

    clockOffsetMs += 61_000;
    // The local IoT Core's tick ends it and tells the device: nothing pending any more.
    let notified: Record<string, unknown>;
    do notified = await d.next('$aws/things/JOBS-3/jobs/notify');
    while (JSON.stringify(notified.jobs) !== '{}');
    expect((await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: 'JOBS-3' }))).execution?.status).toBe('TIMED_OUT');
    expect((await d.ask(`${jobId}/update`, { status: 'SUCCEEDED' })).payload).toMatchObject({ code: 'InvalidStateTransition' });
    expect((await stack.iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails?.numberOfTimedOutThings).toBe(1);
  });

  it('aborts the job once more than the threshold of executed things failed', async () => {
    const [one, two, three] = [await device('JOBS-1'), await device('JOBS-2', '3.1.1'), await device('JOBS-3')];
    await three.client.subscribeAsync('$aws/things/JOBS-3/jobs/notify-next', { qos: 1 });
    const jobId = await createJob(['JOBS-1', 'JOBS-2', 'JOBS-3'], {
      abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 60, minNumberOfExecutedThings: 2 }] },
    });
    expect((await three.next('$aws/things/JOBS-3/jobs/notify-next')).execution).toMatchObject({ jobId });

    await one.ask(`${jobId}/update`, { status: 'FAILED', statusDetails: { reason: 'csr-refused' } });
    await two.ask(`${jobId}/update`, { status: 'FAILED' });

    const { job } = await stack.iot.send(new DescribeJobCommand({ jobId }));
    expect(job).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfFailedThings: 2, numberOfCanceledThings: 1 } });
    // The third device's execution was canceled before it started: it is told nothing is next.
    expect(await three.next('$aws/things/JOBS-3/jobs/notify-next')).toEqual({ timestamp: expect.any(Number) });
    expect((await three.ask(`${jobId}/update`, { status: 'IN_PROGRESS' })).payload).toMatchObject({ code: 'InvalidStateTransition' });
  });

  it('CancelJob cancels the queued executions, and the devices hear of it', async () => {
    const d = await device('JOBS-1');
    await d.client.subscribeAsync('$aws/things/JOBS-1/jobs/notify-next', { qos: 1 });
    const jobId = await createJob(['JOBS-1', 'JOBS-2']);
    expect((await d.next('$aws/things/JOBS-1/jobs/notify-next')).execution).toMatchObject({ jobId });

    await stack.iot.send(new CancelJobCommand({ jobId, reasonCode: 'OPERATOR', comment: 'Wave stopped' }));

    expect(await d.next('$aws/things/JOBS-1/jobs/notify-next')).toEqual({ timestamp: expect.any(Number) });
    const { executionSummaries } = await stack.iot.send(new ListJobExecutionsForJobCommand({ jobId }));
    expect(executionSummaries?.map((e) => e.jobExecutionSummary?.status)).toEqual(['CANCELED', 'CANCELED']);
    expect((await stack.iot.send(new DescribeJobCommand({ jobId }))).job).toMatchObject({ status: 'CANCELED', reasonCode: 'OPERATOR', comment: 'Wave stopped' });
  });
});

describe('the device policy', () => {
  it("keeps a device out of another thing's job topics, and off the service's reply and notification topics", async () => {
    const jobId = await createJob(['JOBS-2']);
    const d = await device('JOBS-1');

    // MQTT 5: SUBACK 0x87 and PUBACK 0x87 (mqtt-endpoint.ts), and no answer comes.
    await expect(d.client.subscribeAsync('$aws/things/JOBS-2/jobs/notify-next', { qos: 1 })).rejects.toThrow(/Not authorized/);
    await expect(d.client.publishAsync('$aws/things/JOBS-2/jobs/get', '{}', { qos: 1 })).rejects.toThrow();
    await expect(d.client.publishAsync(`$aws/things/JOBS-2/jobs/${jobId}/update`, JSON.stringify({ status: 'SUCCEEDED' }), { qos: 1 })).rejects.toThrow();
    await expect(d.client.publishAsync('$aws/things/JOBS-1/jobs/notify-next', '{}', { qos: 1 })).rejects.toThrow();
    await sleep(200);
    expect(d.received.filter((m) => m.topic.includes('JOBS-2'))).toEqual([]);
    expect((await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: 'JOBS-2' }))).execution?.status).toBe('QUEUED');
    expect(stack.core.mqtt!.log.filter((e) => e.event === 'publish-denied').map((e) => e.detail)).toEqual(
      expect.arrayContaining([`JOBS-1 → $aws/things/JOBS-2/jobs/${jobId}/update`, 'JOBS-1 → $aws/things/JOBS-1/jobs/notify-next']),
    );

    // MQTT 3.1.1: the foreign request closes the connection, as any denied publish does.
    const legacy = await device('JOBS-1', '3.1.1');
    const closed = new Promise<void>((resolve) => legacy.client.once('close', () => resolve()));
    legacy.client.publish('$aws/things/JOBS-2/jobs/get', '{}', { qos: 1 });
    await closed;
  });
});

describe('Jobs events (events-jobs.html)', () => {
  const events: Array<Record<string, unknown>> = [];

  beforeAll(() => {
    const { region, accountId } = stack.core.endpoints;
    stack.core.addFunction({
      functionName: 'job-events-recorder',
      handler: async (event) => {
        events.push(event as Record<string, unknown>);
        return null;
      },
    });
    stack.core.addRule({
      ruleName: 'jobExecutionSucceeded',
      sql: "SELECT * FROM '$aws/events/jobExecution/+/succeeded'",
      actions: [{ lambda: { functionArn: `arn:aws:lambda:${region}:${accountId}:function:job-events-recorder` } }],
    });
  });

  afterAll(async () => {
    await stack.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: false } } }));
  });

  async function succeed(): Promise<string> {
    const d = await device('JOBS-1');
    const jobId = await createJob(['JOBS-1']);
    expect((await d.ask('start-next')).outcome).toBe('accepted');
    expect((await d.ask(`${jobId}/update`, { status: 'SUCCEEDED', statusDetails: { step: 'installed' } })).outcome).toBe('accepted');
    await stack.core.idle();
    await sleep(200);
    await stack.core.idle();
    return jobId;
  }

  it('publishes nothing while JOB_EXECUTION is disabled (the default), then $aws/events/jobExecution/<jobId>/succeeded once enabled', async () => {
    const before = await stack.iot.send(new DescribeEventConfigurationsCommand({}));
    expect(before.eventConfigurations?.JOB_EXECUTION).toEqual({ Enabled: false });
    const quiet = await succeed();
    expect(events).toEqual([]);

    await stack.iot.send(new UpdateEventConfigurationsCommand({ eventConfigurations: { JOB_EXECUTION: { Enabled: true } } }));
    expect((await stack.iot.send(new DescribeEventConfigurationsCommand({}))).eventConfigurations?.JOB_EXECUTION).toEqual({ Enabled: true });
    const jobId = await succeed();

    expect(jobId).not.toBe(quiet);
    expect(events).toEqual([
      expect.objectContaining({
        eventType: 'JOB_EXECUTION',
        operation: 'succeeded',
        jobId,
        thingArn: thingArn('JOBS-1'),
        status: 'SUCCEEDED',
        statusDetails: { step: 'installed' },
      }),
    ]);
  });
});
