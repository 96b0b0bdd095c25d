import { handleConsoleRead, type ConsoleReadDeps } from '../../functions/console-devices/http';
import { handleConsoleAction, type ConsoleActionsDeps } from '../../functions/console-actions/http';
import { handleConsoleQueue, type ConsoleQueueDeps } from '../../functions/console-queue/http';
import type { ProvisioningMetrics } from '../../shared/aws/cloudwatch/provisioning-metrics';
import { encodePageToken } from '../../shared/http/page-token';
import { planRedrive, redriveFailures, type RedriveSettings } from '../../shared/failures/redrive';
import type { DeviceEntry } from '../../shared/registry/device-entry';
import { loadEvent } from '../support/fixtures';

/**
 * The console's HTTP API (functions/console-*): every route is for operators only (the JWT's
 * cognito:groups, as API Gateway passes it), and every query, token and body is checked before anything is
 * read or written — a bad one is a 400 with its reason and issues, never a 500.
 */

type Event = Record<string, any>;

function request(routeKey: string, options: { path?: Record<string, string>; query?: Record<string, string>; body?: string; headers?: Record<string, string>; groups?: string | null; sub?: string | null } = {}): Event {
  const event: Event = structuredClone(loadEvent('console-device-list'));
  const [method, path] = routeKey.split(' ') as [string, string];
  event.routeKey = routeKey;
  event.requestContext.routeKey = routeKey;
  event.requestContext.http.method = method;
  event.rawPath = path;
  delete event.queryStringParameters;
  if (options.query) event.queryStringParameters = options.query;
  if (options.path) event.pathParameters = options.path;
  if (options.body !== undefined) event.body = options.body;
  if (options.headers) event.headers = { ...event.headers, ...options.headers };
  const claims = event.requestContext.authorizer.jwt.claims;
  if (options.groups === null) delete claims['cognito:groups'];
  else if (options.groups !== undefined) claims['cognito:groups'] = options.groups;
  if (options.sub === null) delete claims.sub;
  return event;
}

const fail = () => {
  throw new Error('not expected to be called');
};

function readDeps(overrides: Partial<ConsoleReadDeps> = {}): ConsoleReadDeps {
  return {
    listDevices: jest.fn(async () => ({ items: [] })),
    getDevice: jest.fn(async () => undefined),
    timelinePage: jest.fn(async () => ({ events: [] })),
    describeCertificate: jest.fn(async () => undefined),
    describeThing: jest.fn(async () => undefined),
    listThingGroupsForThing: jest.fn(async () => undefined),
    why: { ports: { registry: { get: fail }, iot: { describeCertificate: fail, listPrincipalThings: fail, listAttachedPolicies: fail, describeCaCertificate: fail }, failureQueue: { peek: fail } }, devicePolicy: 'p', dataEndpoint: async () => undefined },
    listDecisions: jest.fn(async () => ({ items: [] })),
    decisionChart: jest.fn(async () => ({ hours: [], totals: { admitted: 0, refused: {} }, counted: 0, truncated: false })),
    readMetrics: jest.fn(async () => ({ totals: [], hookLatency: null, cost: { metricsRequested: 0, getMetricDataCalls: 0, listMetricsCalls: 1 } })),
    now: () => new Date('2026-12-01T12:00:00Z'),
    log: { error: () => {} },
    ...overrides,
  };
}

function actionDeps(entry?: DeviceEntry): ConsoleActionsDeps & { appended: unknown[] } {
  const appended: unknown[] = [];
  const timeline = { append: jest.fn(async (event: unknown) => void appended.push(event)) };
  return {
    appended,
    lifecycle: {
      registry: { get: async () => entry, markBound: fail, beginSuspension: fail, completeResume: fail, beginRetirement: fail, completeRetirement: fail, rollBackRotation: fail },
      iot: { describeCertificate: fail, updateCertificateStatus: fail, listThingGroupsForThing: fail, addThingToThingGroup: fail, removeThingFromThingGroup: fail, listAttachedPolicies: fail, detachPolicy: fail, listPrincipalThings: fail, detachThingPrincipal: fail, deleteThing: fail },
      timeline,
      quarantineGroup: 'q',
      now: () => new Date('2026-12-01T12:00:00Z'),
    },
    registry: {
      get: async () => entry,
      allow: jest.fn(async (deviceId: string) => ({ deviceId, status: 'allowed' as const, updatedAt: '2026-12-01T12:00:00.000Z' })),
      block: jest.fn(async (deviceId: string) => ({ deviceId, status: 'blocked' as const, updatedAt: '2026-12-01T12:00:00.000Z' })),
    },
    importRows: jest.fn(async (rows) => ({ imported: rows.map((r) => r.deviceId), updated: [], unchanged: [], blocked: [], failed: [], retries: 0 })),
    appendEvents: jest.fn(async (events) => void appended.push(...events)),
    log: { error: () => {}, info: () => {} },
  };
}

function queueDeps(): ConsoleQueueDeps {
  return {
    depth: async () => ({ visible: 2, inFlight: 0, delayed: 0 }),
    peek: async () => [
      { messageId: 'm2', body: JSON.stringify({ ruleName: 'r', failures: [{ errorMessage: 'boom' }] }), sentAt: '2026-12-01T11:00:00.000Z' },
      { messageId: 'm1', body: '{"certificateId":"x"}', sentAt: '2026-12-01T10:00:00.000Z', deadLetterSourceArn: 'arn:aws:sqs:us-east-1:123456789012:q' },
    ],
    redrive: jest.fn(async () => ({ redriven: [], kept: [] })),
    now: () => new Date('2026-12-01T12:00:00Z'),
    log: { error: () => {}, info: () => {} },
  };
}

const body = (answer: { body: string }) => JSON.parse(answer.body) as Record<string, any>;

const ROUTES: Array<[string, (event: Event) => Promise<{ statusCode: number; body: string }>, Record<string, string> | undefined]> = [
  ['GET /devices', (e) => handleConsoleRead(e, readDeps()), undefined],
  ['GET /devices/{deviceId}', (e) => handleConsoleRead(e, readDeps()), { deviceId: 'SENSOR-1' }],
  ['GET /devices/{deviceId}/why', (e) => handleConsoleRead(e, readDeps()), { deviceId: 'SENSOR-1' }],
  ['GET /decisions', (e) => handleConsoleRead(e, readDeps()), undefined],
  ['GET /metrics', (e) => handleConsoleRead(e, readDeps()), undefined],
  ['POST /devices/{deviceId}/actions', (e) => handleConsoleAction(e, actionDeps()), { deviceId: 'SENSOR-1' }],
  ['POST /devices/import', (e) => handleConsoleAction(e, actionDeps()), undefined],
  ['GET /failure-queue', (e) => handleConsoleQueue(e, queueDeps()), undefined],
  ['POST /failure-queue/redrive', (e) => handleConsoleQueue(e, queueDeps()), undefined],
];

describe('every console route', () => {
  it.each(ROUTES)('%s refuses a technician (403 group-not-allowed), in the API', async (route, handle, path) => {
    const answer = await handle(request(route, { groups: '[technicians]', ...(path ? { path } : {}), body: '{"action":"block"}' }));
    expect(answer.statusCode).toBe(403);
    expect(body(answer)).toMatchObject({ reason: 'group-not-allowed' });
  });

  it.each(ROUTES)('%s refuses a user in no group (403)', async (route, handle, path) => {
    const answer = await handle(request(route, { groups: null, ...(path ? { path } : {}) }));
    expect(answer.statusCode).toBe(403);
    expect(body(answer).reason).toBe('group-not-allowed');
  });

  it.each(ROUTES)('%s refuses a token without a subject (401)', async (route, handle, path) => {
    const answer = await handle(request(route, { sub: null, ...(path ? { path } : {}) }));
    expect(answer.statusCode).toBe(401);
  });

  it('reads the groups as API Gateway passes them, and as an array', async () => {
    for (const groups of ['[technicians operators]', 'operators', ['operators']]) {
      const answer = await handleConsoleRead(request('GET /devices', { groups: groups as string }), readDeps());
      expect(answer.statusCode).toBe(200);
    }
  });
});

describe('GET /devices', () => {
  it('pages with the registry and hands back an opaque token', async () => {
    const listDevices = jest.fn(async () => ({ items: [{ deviceId: 'SENSOR-1', state: 'allowed' as const }], next: 'SENSOR-1' }));
    const first = body(await handleConsoleRead(request('GET /devices', { query: { prefix: 'SENSOR-', state: 'allowed', limit: '1' } }), readDeps({ listDevices })));
    expect(first.items).toEqual([{ deviceId: 'SENSOR-1', state: 'allowed' }]);
    expect(first.nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    await handleConsoleRead(request('GET /devices', { query: { prefix: 'SENSOR-', limit: '1', nextToken: first.nextToken } }), readDeps({ listDevices }));
    expect(listDevices).toHaveBeenLastCalledWith({ prefix: 'SENSOR-', limit: 1, after: 'SENSOR-1' });
  });

  it.each([
    ['garbled', 'not!base64'],
    ['not JSON', Buffer.from('garbage').toString('base64url')],
    ['of another route', encodePageToken('decisions', { after: 'SENSOR-1' })],
    ['with a forged key', Buffer.from(JSON.stringify({ r: 'devices', after: { S: 'x' } })).toString('base64url')],
    ['with an extra field', encodePageToken('devices', { after: 'SENSOR-1', listShard: '3' })],
    ['outside the prefix', encodePageToken('devices', { after: 'GATEWAY-1' })],
  ])('refuses a nextToken %s (400 next-token-invalid), never reading the table', async (_, token) => {
    const listDevices = jest.fn();
    const answer = await handleConsoleRead(request('GET /devices', { query: { prefix: 'SENSOR-', nextToken: token } }), readDeps({ listDevices }));
    expect(answer.statusCode).toBe(400);
    expect(body(answer).reason).toMatch(/next-token-invalid|query-invalid/);
    expect(listDevices).not.toHaveBeenCalled();
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ state: 'happy' }, 'state'],
    [{ prefix: 'a b' }, 'prefix'],
    [{ colour: 'red' }, 'colour'],
  ])('refuses the query %j (400, naming %s)', async (query, field) => {
    const answer = await handleConsoleRead(request('GET /devices', { query }), readDeps());
    expect(answer.statusCode).toBe(400);
    expect(body(answer)).toMatchObject({ reason: 'query-invalid', issues: [expect.objectContaining({ path: field })] });
  });
});

describe('GET /devices/{deviceId}', () => {
  it('answers 404 for a device with no entry and no timeline, and 400 for a malformed id or timelineToken', async () => {
    expect((await handleConsoleRead(request('GET /devices/{deviceId}', { path: { deviceId: 'NONE-1' } }), readDeps())).statusCode).toBe(404);
    const bad = await handleConsoleRead(request('GET /devices/{deviceId}', { path: { deviceId: 'a/b' } }), readDeps());
    expect(body(bad).reason).toBe('device-id-invalid');
    // A timeline token of another device would read that device's events: refused.
    const other = encodePageToken('timeline:OTHER-1', { before: '2026-12-01T10:00:00.000Z#allowed#operator' });
    const answer = await handleConsoleRead(request('GET /devices/{deviceId}', { path: { deviceId: 'SENSOR-1' }, query: { timelineToken: other } }), readDeps());
    expect(answer.statusCode).toBe(400);
    expect(body(answer).reason).toBe('next-token-invalid');
  });

  it('joins the entry, the certificate, the thing and the newest timeline page', async () => {
    const entry: DeviceEntry = { deviceId: 'SENSOR-1', status: 'allowed', certificateId: 'c'.repeat(64), bindingState: 'bound', thingName: 'SENSOR-1' };
    const deps = readDeps({
      getDevice: async () => entry,
      describeCertificate: async () => ({ certificateId: 'c'.repeat(64), certificateArn: 'arn', caCertificateId: undefined, status: 'ACTIVE', certificatePem: 'not a pem' }),
      describeThing: async () => ({ thingName: 'SENSOR-1', attributes: {} }),
      listThingGroupsForThing: async () => ['g'],
      timelinePage: async () => ({ events: [{ deviceId: 'SENSOR-1', at: '2026-12-01T10:00:00.000Z', type: 'activated', actor: { kind: 'function', id: 'activateCertificate' } }], next: '2026-12-01T10:00:00.000Z#activated#x' }),
    });
    const page = body(await handleConsoleRead(request('GET /devices/{deviceId}', { path: { deviceId: 'SENSOR-1' } }), deps));
    expect(page).toMatchObject({ deviceId: 'SENSOR-1', state: 'provisioned', certificate: { status: 'ACTIVE' }, thing: { thingName: 'SENSOR-1', thingGroups: ['g'] } });
    expect(page.timeline.events).toHaveLength(1);
    expect(page.timeline.nextToken).toEqual(expect.any(String));
  });
});

describe('GET /decisions', () => {
  it('refuses a window beyond 7 days and a token of another window', async () => {
    const old = await handleConsoleRead(request('GET /decisions', { query: { since: '2026-11-01T00:00:00Z' } }), readDeps());
    expect(body(old)).toMatchObject({ reason: 'query-invalid', issues: [{ path: 'since' }] });
    const token = encodePageToken('decisions', { before: '2026-12-01T10:00:00.000Z#refused#x', since: '2026-11-30T12:00:00.000Z' });
    const other = await handleConsoleRead(request('GET /decisions', { query: { since: '2026-11-30T13:00:00Z', nextToken: token } }), readDeps());
    expect(body(other).reason).toBe('next-token-invalid');
  });

  it('answers the first page with the chart, the next ones without', async () => {
    const decisionChart = jest.fn(async () => ({ hours: [], totals: { admitted: 1, refused: {} }, counted: 1, truncated: false }));
    const first = body(await handleConsoleRead(request('GET /decisions'), readDeps({ decisionChart, listDecisions: async () => ({ items: [], next: '2026-12-01T10:00:00.000Z#refused#x' }) })));
    expect(first.chart.totals.admitted).toBe(1);
    const second = body(await handleConsoleRead(request('GET /decisions', { query: { since: first.since, nextToken: first.nextToken } }), readDeps({ decisionChart })));
    expect(second.chart).toBeUndefined();
    expect(decisionChart).toHaveBeenCalledTimes(1);
  });
});

describe('GET /metrics', () => {
  it.each([[{ hours: '2' }, 'hours'], [{ hours: '24h' }, 'hours'], [{ since: '2026-12-01T00:00:00Z' }, 'since']])('refuses the query %j (400, nothing read)', async (query, path) => {
    const readMetrics = jest.fn();
    const answer = await handleConsoleRead(request('GET /metrics', { query }), readDeps({ readMetrics }));
    expect(answer.statusCode).toBe(400);
    expect(body(answer)).toMatchObject({ reason: 'query-invalid', issues: [{ path }] });
    expect(readMetrics).not.toHaveBeenCalled();
  });

  it('reads the window asked for (whole minutes, 24 h unless said) and groups the series as the home page shows them', async () => {
    const readMetrics = jest.fn(async (): Promise<ProvisioningMetrics> => ({
      totals: [
        { metric: 'Decisions', dimensions: { flow: 'hook', outcome: 'denied', reason: 'device-blocked' }, sum: 2 },
        { metric: 'Decisions', dimensions: { flow: 'jitr', outcome: 'activated', reason: 'admitted' }, sum: 5 },
        { metric: 'Activations', dimensions: { flow: 'jitr' }, sum: 5 },
        { metric: 'ClaimsVended', dimensions: {}, sum: 3 },
        { metric: 'ColdStart', dimensions: { function_name: 'svc-dev-preProvisioningHook' }, sum: 1 },
      ],
      hookLatency: { p50: 40, p99: 900, count: 2 },
      cost: { metricsRequested: 8, getMetricDataCalls: 1, listMetricsCalls: 1 },
    }));
    const deps = readDeps({ readMetrics, now: () => new Date('2026-12-01T12:00:30Z') });
    const day = body(await handleConsoleRead(request('GET /metrics'), deps));
    expect(readMetrics).toHaveBeenLastCalledWith({ since: new Date('2026-11-30T12:01:00Z'), until: new Date('2026-12-01T12:01:00Z') });
    expect(day).toMatchObject({
      hours: 24,
      decisions: [
        { flow: 'jitr', outcome: 'activated', reason: 'admitted', count: 5 },
        { flow: 'hook', outcome: 'denied', reason: 'device-blocked', count: 2 },
      ],
      activations: [{ flow: 'jitr', count: 5 }],
      claimsVended: 3,
      hookLatencyMs: { p50: 40, p99: 900, decisions: 2, budget: 5000, deadline: 3000 },
      coldStarts: [{ function: 'svc-dev-preProvisioningHook', count: 1 }],
      retirements: [],
      cost: { metricsRequested: 8 },
    });
    await handleConsoleRead(request('GET /metrics', { query: { hours: '168' } }), deps);
    expect(readMetrics).toHaveBeenLastCalledWith({ since: new Date('2026-11-24T12:01:00Z'), until: new Date('2026-12-01T12:01:00Z') });
  });

  it('answers null percentiles when the hook decided nothing', async () => {
    const answer = body(await handleConsoleRead(request('GET /metrics', { query: { hours: '1' } }), readDeps()));
    expect(answer.hookLatencyMs).toEqual({ p50: null, p99: null, decisions: 0, budget: 5000, deadline: 3000 });
  });
});

describe('POST /devices/{deviceId}/actions', () => {
  const act = (payload: string, deps = actionDeps()) => handleConsoleAction(request('POST /devices/{deviceId}/actions', { path: { deviceId: 'SENSOR-1' }, body: payload }), deps);

  it.each([
    ['not JSON', 'suspend', 'body-invalid'],
    ['an unknown action', '{"action":"explode"}', 'request-invalid'],
    ['an option of another action', '{"action":"suspend","keepThing":true}', 'request-invalid'],
    ['a bad thing group', '{"action":"allow","thingGroup":"a b"}', 'request-invalid'],
  ])('refuses %s (400)', async (_, payload, reason) => {
    const answer = await act(payload);
    expect(answer.statusCode).toBe(400);
    expect(body(answer).reason).toBe(reason);
  });

  it('answers a transition the lifecycle refuses with 409 and the state', async () => {
    const answer = await act('{"action":"resume"}', actionDeps({ deviceId: 'SENSOR-1', status: 'allowed' }));
    expect(answer.statusCode).toBe(409);
    expect(body(answer)).toMatchObject({ reason: 'transition-refused', action: 'resume', state: 'allowed', message: expect.stringMatching(/only a suspended device can be resumed/) });
  });

  it('blocks, and records the user on the timeline', async () => {
    const deps = actionDeps({ deviceId: 'SENSOR-1', status: 'allowed' });
    const answer = body(await act('{"action":"block"}', deps));
    expect(answer).toMatchObject({ deviceId: 'SENSOR-1', action: 'block', outcome: 'done', state: 'blocked' });
    expect(deps.appended).toEqual([expect.objectContaining({ type: 'blocked', actor: { kind: 'user', id: 'operator@example.com (0b8c8a52-7b3e-4c1e-9a8f-2f4d5e6a7b8c)' } })]);
  });

  it('reprovisions with the profile the entry has', async () => {
    const deps = actionDeps({ deviceId: 'SENSOR-1', status: 'allowed', thingGroup: 'line-2', certificateId: 'c'.repeat(64), bindingState: 'bound' });
    await act('{"action":"reprovision"}', deps);
    expect(deps.registry.allow).toHaveBeenCalledWith('SENSOR-1', { thingGroup: 'line-2', reprovision: true }, expect.any(Date));
  });
});

describe('POST /devices/import', () => {
  const send = (text: string, contentType = 'text/csv', deps = actionDeps()) => handleConsoleAction(request('POST /devices/import', { body: text, headers: { 'content-type': contentType } }), deps);

  it('refuses another content type (415), an empty body, a broken file (400) and a file over the limit (413)', async () => {
    expect((await send('deviceId\nA-1\n', 'application/json')).statusCode).toBe(415);
    expect(body(await send('')).reason).toBe('body-invalid');
    expect(body(await send('deviceId,colour\nA-1,red\n')).reason).toBe('file-invalid');
    expect((await send(`deviceId\n${'A-1\n'.repeat(300_000)}`)).statusCode).toBe(413);
  });

  it('imports the valid rows, reports the invalid ones by line, and puts the user on each imported timeline', async () => {
    const deps = actionDeps();
    const answer = body(await send('deviceId,thingGroup\nA-1,line-1\nbad id,line-1\nA-2,\n', 'text/csv; charset=utf-8', deps));
    expect(answer).toMatchObject({ complete: false, imported: 2, invalid: [{ line: 3, message: expect.stringMatching(/deviceId/) }] });
    expect(deps.appended).toEqual([
      expect.objectContaining({ deviceId: 'A-1', type: 'allowed', detail: 'import', actor: expect.objectContaining({ kind: 'user' }) }),
      expect.objectContaining({ deviceId: 'A-2', type: 'allowed' }),
    ]);
  });
});

describe('the failure queue routes', () => {
  it('shows the count, the oldest age and each message with what failed', async () => {
    const answer = body(await handleConsoleQueue(request('GET /failure-queue'), queueDeps()));
    expect(answer).toMatchObject({ count: 2, oldestAgeSeconds: 7200 });
    expect(answer.messages.map((m: { messageId: string }) => m.messageId)).toEqual(['m1', 'm2']);
    expect(answer.messages[1]).toMatchObject({ origin: 'rule r', error: 'boom' });
  });

  it.each([['{"max":0}'], ['{"max":51}'], ['{"all":true}'], ['[]']])('refuses the redrive body %s (400)', async (payload) => {
    const deps = queueDeps();
    const answer = await handleConsoleQueue(request('POST /failure-queue/redrive', { body: payload }), deps);
    expect(answer.statusCode).toBe(400);
    expect(deps.redrive).not.toHaveBeenCalled();
  });
});

describe('the redrive', () => {
  const settings: RedriveSettings = {
    functions: ['svc-dev-activateCertificate', 'svc-dev-expirySweep', 'svc-dev-rotateCertificate'],
    ruleFunctions: { svc_dev_certificate_registered: 'svc-dev-activateCertificate', svc_dev_rotation_csr: 'svc-dev-rotateCertificate' },
    deadLetterSources: { 'arn:aws:sqs:us-east-1:123456789012:svc-dev-retirements': 'https://sqs/123456789012/svc-dev-retirements' },
  };
  const lambdaRecord = (fn: string) => JSON.stringify({ requestContext: { functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fn}:$LATEST` }, requestPayload: { certificateId: 'c' }, responsePayload: {} });

  it.each([
    ['a failure of this stack’s function', { body: lambdaRecord('svc-dev-activateCertificate') }, { kind: 'invoke', functionName: 'svc-dev-activateCertificate', payload: '{"certificateId":"c"}' }],
    ['a failure of another function', { body: lambdaRecord('someone-else') }, { kind: 'keep' }],
    ['a rule error with its payload', { body: JSON.stringify({ ruleName: 'svc_dev_certificate_registered', base64OriginalPayload: Buffer.from('{"a":1}').toString('base64'), failures: [] }) }, { kind: 'invoke', functionName: 'svc-dev-activateCertificate', payload: '{"a":1}' }],
    ['the rotation CSR rule’s error, to its own function', { body: JSON.stringify({ ruleName: 'svc_dev_rotation_csr', base64OriginalPayload: Buffer.from('{"csr":"x"}').toString('base64'), failures: [] }) }, { kind: 'invoke', functionName: 'svc-dev-rotateCertificate', payload: '{"csr":"x"}' }],
    ['a rotation function’s failure', { body: lambdaRecord('svc-dev-rotateCertificate') }, { kind: 'invoke', functionName: 'svc-dev-rotateCertificate' }],
    ['an error of a rule of another stack', { body: JSON.stringify({ ruleName: 'someone_else', base64OriginalPayload: Buffer.from('{"a":1}').toString('base64'), failures: [] }) }, { kind: 'keep', why: 'an error of rule someone_else, not a rule of this stack' }],
    ['a rule error without it', { body: JSON.stringify({ ruleName: 'svc_dev_certificate_registered', failures: [] }) }, { kind: 'keep' }],
    ['a retirement dead letter', { body: '{"x":1}', deadLetterSourceArn: 'arn:aws:sqs:us-east-1:123456789012:svc-dev-retirements' }, { kind: 'send', queueUrl: 'https://sqs/123456789012/svc-dev-retirements', body: '{"x":1}' }],
    ['a dead letter of a foreign queue', { body: '{}', deadLetterSourceArn: 'arn:aws:sqs:us-east-1:123456789012:other' }, { kind: 'keep' }],
    ['anything else', { body: 'hello' }, { kind: 'keep' }],
  ])('places %s', (_, message, plan) => {
    expect(planRedrive(message, settings)).toMatchObject(plan);
  });

  it('deletes a message only once it is placed, and keeps (releases) the others', async () => {
    const queue = [
      { messageId: '1', receiptHandle: 'h1', body: lambdaRecord('svc-dev-activateCertificate') },
      { messageId: '2', receiptHandle: 'h2', body: 'hello' },
      { messageId: '3', receiptHandle: 'h3', body: lambdaRecord('svc-dev-expirySweep') },
    ];
    const removed: string[] = [];
    const released: string[] = [];
    let received = false;
    const outcome = await redriveFailures(10, settings, {
      receive: async () => (received ? [] : ((received = true), queue)),
      remove: async (h) => void removed.push(h),
      release: async (h) => void released.push(h),
      invokeAsync: async (fn) => {
        if (fn.endsWith('expirySweep')) throw Object.assign(new Error('throttled'), { name: 'TooManyRequestsException' });
      },
      send: fail,
    });
    expect(removed).toEqual(['h1']);
    expect(released.sort()).toEqual(['h2', 'h3']);
    expect(outcome.redriven).toEqual([{ messageId: '1', to: 'function svc-dev-activateCertificate' }]);
    expect(outcome.kept.map((k) => k.messageId)).toEqual(['2', '3']);
  });
});

describe('the console indexes', () => {
  it('put every registry entry in one of the list shards, spread and stable', () => {
    const { LIST_SHARDS, listShardOf } = require('../../shared/aws/registry/entries') as typeof import('../../shared/aws/registry/entries');
    const shards = new Set(Array.from({ length: 400 }, (_, i) => listShardOf(`DEVICE-${i}`)));
    expect([...shards].sort()).toEqual(Array.from({ length: LIST_SHARDS }, (_, i) => String(i)).sort());
    expect(listShardOf('SENSOR-0001')).toBe(listShardOf('SENSOR-0001'));
  });

  it('put decision events only in the decisions index, by day and shard', () => {
    const { decisionShardOf, DECISION_TYPES } = require('../../shared/aws/timeline/items') as typeof import('../../shared/aws/timeline/items');
    expect(decisionShardOf('2026-12-01T10:00:00.000Z', 'SENSOR-1')).toMatch(/^2026-12-01#[0-3]$/);
    expect([...DECISION_TYPES].sort()).toEqual(['activated', 'decided', 'refused']);
  });
});

describe('the import’s timeline events', () => {
  it('are written 25 a request, what DynamoDB leaves unprocessed sent again', async () => {
    const { appendTimelineEvents } = require('../../shared/aws/timeline/batch-events') as typeof import('../../shared/aws/timeline/batch-events');
    const sent: number[] = [];
    let first = true;
    const client = {
      send: async (command: { input: { RequestItems: Record<string, unknown[]> } }) => {
        const requests = command.input.RequestItems.t!;
        sent.push(requests.length);
        if (first) {
          first = false;
          return { UnprocessedItems: { t: requests.slice(0, 2) } };
        }
        return {};
      },
    };
    const events = Array.from({ length: 30 }, (_, i) => ({ deviceId: `D-${i}`, at: new Date('2026-12-01T12:00:00Z'), type: 'allowed' as const, actor: { kind: 'user' as const, id: 'u' }, key: 'import' }));
    await appendTimelineEvents({ client: client as never, tableName: 't' }, events, { concurrency: 1, sleep: async () => {} });
    expect(sent).toEqual([25, 2, 5]);
  });
});
