import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { loadEvent } from '../support/fixtures';
import { loadHandler } from '../support/handlers';

/**
 * functions/rotation-events/handler.ts at its edge: the two rule events (the sample events in events/) become
 * signals; anything else is dropped with a warning and touches nothing (no retry, no AWS call).
 */

const ddbMock = mockClient(DynamoDBDocumentClient);
const iotMock = mockClient(IoTClient);
let handlerModule: typeof import('../../functions/rotation-events/handler');

beforeAll(() => {
  handlerModule = loadHandler<typeof import('../../functions/rotation-events/handler')>('rotationEvents');
});

beforeEach(() => {
  ddbMock.reset();
  iotMock.reset();
  ddbMock.on(GetCommand).resolves({});
});

describe('rotationEvents', () => {
  it('reads a presence connected event as a connected signal of the client id, at its epoch-ms timestamp', () => {
    expect(handlerModule.signalOf(loadEvent('presence-connected'))).toEqual({
      kind: 'connected',
      deviceId: 'sensor-0042',
      principalIdentifier: 'b'.repeat(64),
      at: new Date(1764583200123),
    });
  });

  it('reads a job-execution event as a signal of the thing its ARN names, at its epoch-s timestamp', () => {
    expect(handlerModule.signalOf(loadEvent('job-execution-succeeded'))).toEqual({
      kind: 'job-execution',
      deviceId: 'sensor-0042',
      jobId: 'rotate-2026-12-01-1',
      status: 'SUCCEEDED',
      statusDetails: { certificateId: 'b'.repeat(64) },
      at: new Date(1764583201 * 1000),
    });
  });

  it('looks the device up for a well-formed event, and ignores it without a rotation', async () => {
    expect(await handlerModule.lambdaHandler(loadEvent('presence-connected'))).toEqual({ outcome: 'ignored', reason: 'no-rotation' });
    expect(ddbMock.commandCalls(GetCommand)[0]!.args[0].input.Key).toEqual({ deviceId: 'sensor-0042' });
  });

  it.each<[string, (e: Record<string, unknown>) => unknown]>([
    ['no eventType', ({ eventType: _, ...rest }) => rest],
    ['a disconnected event', (e) => ({ ...e, eventType: 'disconnected' })],
    ['a client id that is no thing name', (e) => ({ ...e, clientId: 'a/b' })],
    ['no principal', ({ principalIdentifier: _, ...rest }) => rest],
    ['a string timestamp', (e) => ({ ...e, timestamp: 'now' })],
    ['null', () => null],
    ['an array', () => []],
  ])('drops a connected event with %s, touching nothing', async (_name, mutate) => {
    expect(await handlerModule.lambdaHandler(mutate(loadEvent('presence-connected')))).toEqual({ outcome: 'dropped', reason: 'invalid-event' });
    expect(ddbMock.calls()).toHaveLength(0);
    expect(iotMock.calls()).toHaveLength(0);
  });

  it.each<[string, (e: Record<string, unknown>) => unknown]>([
    ['an unknown status', (e) => ({ ...e, status: 'DONE' })],
    ['a thing ARN of another service', (e) => ({ ...e, thingArn: 'arn:aws:s3:::bucket/thing/x' })],
    ['no job id', ({ jobId: _, ...rest }) => rest],
    ['statusDetails that are not strings', (e) => ({ ...e, statusDetails: { n: 1 } })],
  ])('drops a job-execution event with %s, touching nothing', async (_name, mutate) => {
    expect(await handlerModule.lambdaHandler(mutate(loadEvent('job-execution-succeeded')))).toEqual({ outcome: 'dropped', reason: 'invalid-event' });
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it.each([
    ['IN_PROGRESS', 'DELETED'],
    ['SUCCEEDED', 'SUCCEEDED'],
  ])('reads a job deletion with the execution %s as %s (the status is the one before the deletion)', (status, read) => {
    expect(handlerModule.signalOf({ ...loadEvent<Record<string, unknown>>('job-execution-succeeded'), operation: 'deleted', status })).toMatchObject({ status: read });
  });

  it('drops the executions of jobs that are not rotations (the rule sees every job)', async () => {
    expect(await handlerModule.lambdaHandler({ ...loadEvent<Record<string, unknown>>('job-execution-succeeded'), jobId: 'reboot-7' })).toEqual({ outcome: 'dropped', reason: 'not-a-rotation-job' });
    expect(ddbMock.calls()).toHaveLength(0);
  });
});
