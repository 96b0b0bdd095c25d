import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod/mini';
import {
  AbandonedError,
  checkpoint,
  handleCustomResourceRequest,
  readProperties,
  type CustomResource,
  type CustomResourceDeps,
  type Done,
  type Failure,
  type Progress,
} from '../../shared/cloudformation/custom-resource';
import { MAX_RESPONSE_BYTES, responseBody, sendResponse, type CustomResourceResponse, type DeliveryOptions } from '../../shared/cloudformation/respond';
import type { CustomResourceRequest } from '../../shared/schemas/cloudformation-event';
import { loadEvent } from '../support/fixtures';

/**
 * The CloudFormation custom-resource protocol on its own (shared/cloudformation/custom-resource.ts), with a
 * fake resource that knows nothing of certificates, and its wire (respond.ts) against a real HTTP receiver
 * standing in for the presigned ResponseURL.
 */

type Step = 'starting' | 'making' | 'naming';
type Created = { physicalResourceId: string };
type Work = (request: CustomResourceRequest, progress: Progress<Step, Created>) => Promise<Done>;

const LOG_STREAM = '2026/12/01/[$LATEST]fedcba9876543210';
const DETAILS = `details in CloudWatch Logs, log stream ${LOG_STREAM}`;

/** A resource whose every request type does `work`; records its cleanups. */
function fakeResource(work: Work, afterFailedAnswer?: (failure: Failure<Step, Created>) => Promise<void>): CustomResource<Step, Created> & { cleanups: Failure<Step, Created>[] } {
  const cleanups: Failure<Step, Created>[] = [];
  return {
    firstStep: 'starting',
    create: (request, progress) => work(request, progress),
    update: (request, progress) => work(request, progress),
    delete: (request, progress) => work(request, progress),
    afterFailedAnswer: async (failure) => {
      cleanups.push(failure);
      await afterFailedAnswer?.(failure);
    },
    cleanups,
  };
}

interface Sent {
  url: string;
  response: CustomResourceResponse;
  options: DeliveryOptions;
  at: number;
}
interface Logged {
  level: string;
  message: string;
  attributes: Record<string, unknown>;
}

let sent: Sent[];
let logged: Logged[];
const deps = (overrides: Partial<CustomResourceDeps> = {}): CustomResourceDeps => ({
  respond: async (url, response, options) => {
    sent.push({ url, response, options, at: Date.now() });
  },
  settings: { safetyMarginMs: 1_000 },
  log: Object.fromEntries(
    (['debug', 'info', 'warn', 'error'] as const).map((level) => [
      level,
      (message: string, ...attributes: Array<Record<string, unknown>>) => logged.push({ level, message, attributes: Object.assign({}, ...attributes) as Record<string, unknown> }),
    ]),
  ) as unknown as CustomResourceDeps['log'],
  ...overrides,
});

const lambda = (remainingMs = 60_000) => {
  const until = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => until - Date.now(), logStreamName: LOG_STREAM };
};

const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/signed?X-Amz-Signature=secret';

function requestOf(type: 'Create' | 'Update' | 'Delete'): Record<string, any> {
  const event = loadEvent<Record<string, any>>(`certificate-resource-${type.toLowerCase()}`);
  event.ResponseURL = RESPONSE_URL;
  return event;
}

const onlySent = () => {
  expect(sent).toHaveLength(1);
  return sent[0]!;
};
const echoOf = (request: Record<string, any>) => ({ StackId: request.StackId, RequestId: request.RequestId, LogicalResourceId: request.LogicalResourceId });

beforeEach(() => {
  sent = [];
  logged = [];
});

describe('an answer to every request', () => {
  it.each(['Create', 'Update', 'Delete'] as const)('answers a %s that succeeded SUCCESS with the physical id and Data, echoing the request', async (type) => {
    const request = requestOf(type);
    const resource = fakeResource(async () => ({ physicalResourceId: 'thing-1', data: { Name: 'thing-1' } }));

    const result = await handleCustomResourceRequest(request, lambda(), resource, deps());

    const { url, response } = onlySent();
    expect(url).toBe(RESPONSE_URL);
    expect(response).toEqual({ Status: 'SUCCESS', PhysicalResourceId: 'thing-1', Data: { Name: 'thing-1' }, ...echoOf(request) });
    expect(result).toEqual(response);
    expect(resource.cleanups).toEqual([]);
  });

  it('answers without Data when the work returned none', async () => {
    const result = await handleCustomResourceRequest(requestOf('Delete'), lambda(), fakeResource(async () => ({ physicalResourceId: 'thing-1' })), deps());
    expect(result).not.toHaveProperty('Data');
    expect(onlySent().response.Status).toBe('SUCCESS');
  });

  it('sends the answer with a delivery deadline shortly before the Lambda limit', async () => {
    const started = Date.now();
    await handleCustomResourceRequest(requestOf('Create'), lambda(10_000), fakeResource(async () => ({ physicalResourceId: 'thing-1' })), deps());
    const { deadline } = onlySent().options;
    expect(deadline).toBeGreaterThan(started + 9_000);
    expect(deadline).toBeLessThan(started + 10_000);
  });
});

describe('invalid properties', () => {
  const schema = z.strictObject({ ServiceToken: z.string(), Name: z.string().check(z.regex(/^[a-z]+$/, 'must be lower-case letters')) });
  const reading = fakeResource(async (request) => {
    const { Name } = readProperties(schema, request.ResourceProperties);
    return { physicalResourceId: Name };
  });

  it('fails a Create with each issue in the Reason and the placeholder id', async () => {
    const request = requestOf('Create');
    request.ResourceProperties = { ServiceToken: 'arn', Name: 'Not Valid', Extra: 1 };

    await handleCustomResourceRequest(request, lambda(), reading, deps());

    expect(onlySent().response).toEqual({
      Status: 'FAILED',
      Reason: 'invalid properties: Name: must be lower-case letters; Unrecognized key: "Extra"',
      PhysicalResourceId: `not-created:${request.RequestId as string}`,
      ...echoOf(request),
    });
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', message: 'invalid properties', attributes: expect.objectContaining({ reason: expect.stringContaining('Name') }) }));
  });

  it('keeps the physical id of an Update whose new properties are invalid', async () => {
    const request = requestOf('Update');
    request.ResourceProperties = { ServiceToken: 'arn' };

    await handleCustomResourceRequest(request, lambda(), reading, deps());

    expect(onlySent().response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: request.PhysicalResourceId, Reason: expect.stringMatching(/^invalid properties: Name: /) });
  });
});

describe('a failure', () => {
  // A PEM block in an error message, built at run time: no private-key marker is spelled out in tracked files.
  const pem = (label: string) => `${'-'.repeat(5)}BEGIN ${label}${'-'.repeat(5)}\nMIIEsecret\n${'-'.repeat(5)}END ${label}${'-'.repeat(5)}`;
  const leaky = () =>
    Object.assign(new Error(`User arn:aws:sts::123456789012:assumed-role/secret-role is not authorized\n${pem('RSA PRIVATE KEY')}`), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });

  it('names the step and a safe error name in the Reason, never the message', async () => {
    const request = requestOf('Delete');
    const resource = fakeResource(async (_, progress) => {
      checkpoint(progress, 'making');
      throw leaky();
    });

    await handleCustomResourceRequest(request, lambda(), resource, deps());

    const { response } = onlySent();
    expect(response).toEqual({ Status: 'FAILED', Reason: `Delete failed while making (AccessDenied); ${DETAILS}`, PhysicalResourceId: request.PhysicalResourceId, ...echoOf(request) });
  });

  it('logs the error’s name, HTTP status and message with the PEM block cut out', async () => {
    await handleCustomResourceRequest(requestOf('Create'), lambda(), fakeResource(async () => Promise.reject(leaky())), deps());

    const failed = logged.find((line) => line.message === 'custom-resource request failed');
    expect(failed?.attributes).toMatchObject({ step: 'starting', error: { name: 'AccessDenied', httpStatusCode: 403, message: expect.stringContaining('[PEM redacted]') } });
    expect(JSON.stringify(logged)).not.toContain('MIIEsecret');
    expect(JSON.stringify(logged)).not.toContain('X-Amz-Signature');
  });

  it.each([
    ['a name that is no class name', Object.assign(new Error('x'), { name: 'Not a <name>' })],
    ['something that is not an Error', 'just a string'],
  ])('says Error for %s', async (_, thrown) => {
    await handleCustomResourceRequest(requestOf('Create'), lambda(), fakeResource(async () => Promise.reject(thrown)), deps());
    expect(onlySent().response.Reason).toBe(`Create failed while starting (Error); ${DETAILS}`);
  });

  it('answers a failed Create with the id of what it created, so that the rollback Delete removes it', async () => {
    const resource = fakeResource(async (_, progress) => {
      progress.created = { physicalResourceId: 'half-made' };
      checkpoint(progress, 'naming');
      throw new Error('late');
    });
    await handleCustomResourceRequest(requestOf('Create'), lambda(), resource, deps());
    expect(onlySent().response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'half-made', Reason: expect.stringContaining('while naming') });
  });

  it('runs the cleanup after the FAILED answer, with what the work had done and a time to finish by', async () => {
    const request = requestOf('Update');
    const started = Date.now();
    let answeredBeforeCleanup = false;
    const resource = fakeResource(
      async (_, progress) => {
        progress.created = { physicalResourceId: 'replacement' };
        throw new Error('boom');
      },
      async () => {
        answeredBeforeCleanup = sent.length === 1;
      },
    );

    await handleCustomResourceRequest(request, lambda(10_000), resource, deps());

    expect(answeredBeforeCleanup).toBe(true);
    expect(resource.cleanups).toHaveLength(1);
    const [cleanup] = resource.cleanups;
    expect(cleanup).toMatchObject({ request: { RequestId: request.RequestId }, outcome: { kind: 'failed' }, progress: { created: { physicalResourceId: 'replacement' } } });
    expect(cleanup!.until).toBeGreaterThan(started + 9_000);
    expect(cleanup!.until).toBeLessThan(onlySent().options.deadline!);
  });
});

describe('the Lambda deadline', () => {
  it('answers FAILED at the safety margin, names the step, and abandons the work at its next checkpoint', async () => {
    const request = requestOf('Create');
    let abandoned: unknown;
    let reachedNaming = false;
    const resource = fakeResource(async (_, progress) => {
      checkpoint(progress, 'making');
      await new Promise((resolve) => setTimeout(resolve, 800));
      try {
        checkpoint(progress, 'naming');
        reachedNaming = true;
      } catch (error) {
        abandoned = error;
      }
      return { physicalResourceId: 'too-late' };
    });
    // 1 s of margin from a 1.3 s limit: 300 ms of work may run.
    const remainingMs = 1_300;
    const started = Date.now();

    const result = await handleCustomResourceRequest(request, lambda(remainingMs), resource, deps());

    const { response, at } = onlySent();
    expect(at - started).toBeLessThan(remainingMs - 500);
    expect(response).toEqual({
      Status: 'FAILED',
      Reason: `Create timed out while making (answered 1 s before the Lambda limit); ${DETAILS}`,
      PhysicalResourceId: `not-created:${request.RequestId as string}`,
      ...echoOf(request),
    });
    expect(result).toEqual(response);
    expect(resource.cleanups).toEqual([expect.objectContaining({ outcome: { kind: 'timed-out' } })]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(abandoned).toBeInstanceOf(AbandonedError);
    expect(reachedNaming).toBe(false);
    expect(sent).toHaveLength(1);
  });
});

describe('never rejecting', () => {
  it('resolves with the answer when it could not be delivered, and logs that', async () => {
    const failing = deps({ respond: () => Promise.reject(new Error('connect ECONNREFUSED')) });
    const result = await handleCustomResourceRequest(requestOf('Create'), lambda(), fakeResource(async () => ({ physicalResourceId: 'thing-1' })), failing);
    expect(result).toMatchObject({ Status: 'SUCCESS' });
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/^could not answer CloudFormation/) }));
  });

  it('answers FAILED when the resource throws before it returns a promise', async () => {
    const throwing = fakeResource(() => {
      throw new TypeError('sync');
    });
    await expect(handleCustomResourceRequest(requestOf('Update'), lambda(), throwing, deps())).resolves.toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('(TypeError)') });
  });

  it('resolves when the cleanup rejects', async () => {
    const resource = fakeResource(
      async () => Promise.reject(new Error('boom')),
      async () => Promise.reject(new Error('cleanup broke')),
    );
    await expect(handleCustomResourceRequest(requestOf('Update'), lambda(), resource, deps())).resolves.toMatchObject({ Status: 'FAILED' });
    expect(logged).toContainEqual(expect.objectContaining({ message: 'the cleanup after a failed request did not finish' }));
  });
});

describe('requests that are not quite right', () => {
  const untouched = () => fakeResource(async () => Promise.reject(new Error('the work must not run')));

  it('answers FAILED with the placeholder id to a request of an unknown type, without running the work', async () => {
    const request: Record<string, any> = { ...requestOf('Create'), RequestType: 'Upsert' };
    const resource = untouched();

    await handleCustomResourceRequest(request, lambda(), resource, deps());

    expect(onlySent().response).toEqual({
      Status: 'FAILED',
      Reason: expect.stringMatching(/^invalid request: /),
      PhysicalResourceId: `not-created:${request.RequestId as string}`,
      ...echoOf(request),
    });
    expect(resource.cleanups).toEqual([]);
  });

  it('keeps the physical id of a malformed Delete', async () => {
    const request = requestOf('Delete');
    delete request.ResourceType;
    await handleCustomResourceRequest(request, lambda(), untouched(), deps());
    expect(onlySent().response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: request.PhysicalResourceId, Reason: expect.stringContaining('ResourceType') });
  });

  it.each([
    ['names no ResponseURL', (() => {
      const request = requestOf('Create');
      delete request.ResponseURL;
      return request;
    })()],
    ['has no RequestId to echo', { ...requestOf('Delete'), RequestId: '' }],
    ['is not an object', 'Create'],
    ['is nothing', undefined],
  ])('resolves undefined, answering nothing, for an event that %s', async (_, event) => {
    await expect(handleCustomResourceRequest(event, lambda(), untouched(), deps())).resolves.toBeUndefined();
    expect(sent).toEqual([]);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', message: 'not a CloudFormation custom-resource request; there is nothing to answer' }));
  });
});

describe('the answer on the wire (respond.ts)', () => {
  interface Received {
    method: string;
    path: string;
    headers: IncomingHttpHeaders;
    body: string;
  }
  let server: Server;
  let receiverUrl: string;
  let received: Received[];
  let statuses: number[];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.statusCode = statuses.shift() ?? 200;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received = [];
    statuses = [];
  });

  const base: CustomResourceResponse = {
    Status: 'FAILED',
    PhysicalResourceId: 'thing-1',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1',
    RequestId: 'r-1',
    LogicalResourceId: 'Thing',
  };

  const onlyReceived = () => {
    expect(received).toHaveLength(1);
    return received[0]!;
  };

  it.each([
    ['ASCII', 'x'.repeat(10_000)],
    ['multi-byte characters', '証明書'.repeat(3_000)],
    ['characters JSON escapes', '"\n\\'.repeat(3_000)],
  ])('cuts a long Reason of %s so the body stays within 4096 bytes', (_, reason) => {
    const body = responseBody({ ...base, Reason: reason });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_RESPONSE_BYTES - 16);
    const parsed = JSON.parse(body) as CustomResourceResponse;
    expect(parsed.Reason!.endsWith('…')).toBe(true);
    expect(reason.startsWith(parsed.Reason!.slice(0, -1))).toBe(true);
    expect(parsed).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'thing-1', RequestId: 'r-1' });
  });

  it('leaves a body that fits as it is', () => {
    const response = { ...base, Reason: 'short' };
    expect(responseBody(response)).toBe(JSON.stringify(response));
  });

  it('turns an answer whose Data alone is too large into a FAILED one that says why', () => {
    const body = responseBody({ ...base, Status: 'SUCCESS', Data: { Big: 'x'.repeat(5_000) } });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(JSON.parse(body)).toMatchObject({ Status: 'FAILED', Reason: 'the answer was larger than 4096 bytes', PhysicalResourceId: 'thing-1' });
  });

  it('sends at most 4096 bytes to the receiver', async () => {
    await sendResponse(`${receiverUrl}/r`, { ...base, Reason: 'y'.repeat(20_000) });
    expect(Buffer.byteLength(onlyReceived().body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
  });

  it('answers with a PUT, an empty content type and the exact content length', async () => {
    await sendResponse(`${receiverUrl}/signed?X-Amz-Signature=abc`, { ...base, Reason: 'r' });
    const put = onlyReceived();
    expect(put).toMatchObject({ method: 'PUT', path: '/signed?X-Amz-Signature=abc' });
    expect(put.headers['content-type']).toBe('');
    expect(Number(put.headers['content-length'])).toBe(Buffer.byteLength(put.body));
  });

  it('tries again after a 500 and delivers the same body', async () => {
    statuses = [500, 503];
    const result = await sendResponse(`${receiverUrl}/r`, { ...base, Reason: 'r' }, { backoffMs: 10 });
    expect(result).toEqual({ status: 200, attempts: 3 });
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
  });

  it('does not try again after a 403 (an expired or mis-signed URL)', async () => {
    statuses = [403];
    await expect(sendResponse(`${receiverUrl}/r`, { ...base, Reason: 'r' }, { backoffMs: 10 })).rejects.toThrow('answered 403');
    expect(received).toHaveLength(1);
  });

  it('gives up on an unreachable receiver within its deadline, without naming the URL’s path', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const started = Date.now();
    const delivery = sendResponse(`http://127.0.0.1:${port}/secret-signature`, { ...base, Reason: 'r' }, { backoffMs: 50, deadline: Date.now() + 1_000 });
    await expect(delivery).rejects.toThrow(/ECONNREFUSED/);
    await expect(delivery).rejects.not.toThrow(/secret-signature/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('delivers within 4096 bytes the answer of a resource whose Data is too large, as FAILED', async () => {
    const request: Record<string, any> = { ...requestOf('Create'), ResponseURL: `${receiverUrl}/answer` };
    const huge = fakeResource(async () => ({ physicalResourceId: 'thing-1', data: { Big: 'x'.repeat(5_000) } }));

    await handleCustomResourceRequest(request, lambda(), huge, deps({ respond: sendResponse }));

    const { body } = onlyReceived();
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(JSON.parse(body)).toMatchObject({ Status: 'FAILED', Reason: 'the answer was larger than 4096 bytes', PhysicalResourceId: 'thing-1', ...echoOf(request) });
  });

  it('delivers within 4096 bytes a Reason of many issues, cut', async () => {
    const request: Record<string, any> = { ...requestOf('Create'), ResponseURL: `${receiverUrl}/answer` };
    const schema = z.strictObject({ ServiceToken: z.string() });
    request.ResourceProperties = { ServiceToken: 'arn', ...Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`Unknown${i}`, i])) };
    const reading = fakeResource(async (r) => ({ physicalResourceId: readProperties(schema, r.ResourceProperties).ServiceToken }));

    await handleCustomResourceRequest(request, lambda(), reading, deps({ respond: sendResponse }));

    const body = JSON.parse(onlyReceived().body) as CustomResourceResponse;
    expect(Buffer.byteLength(onlyReceived().body)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: `not-created:${request.RequestId as string}`, Reason: expect.stringMatching(/^invalid properties: .*…$/s) });
  });
});
