import { CreateThingTypeCommand } from '@aws-sdk/client-iot';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { disconnect } from '../../device/mqtt-connection';
import { connectOnce, type Endpoint } from '../../local/sandbox/simulator';
import type { KeyedCertificate } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import { backfillListShards } from '../../shared/aws/registry/list-backfill';
import { decisionChart } from '../../shared/aws/timeline/decisions';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The operator console's API (functions/console-*) against the local IoT Core, through its HTTP API with
 * the stand-in user pool's tokens: the device list (prefix, state, pages), a JITR device's page and
 * timeline, a suspension that keeps the device out over MQTT, the import, the diagnosis, the decisions,
 * and the failure queue with its redrive.
 */

let stack: LocalStack;
let endpoint: Endpoint;
let api: string;
let operator: string;
let technician: string;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  api = stack.core.endpoints.http!;
  operator = await stack.core.issueToken('olga', { groups: ['operators'] });
  technician = await stack.core.issueToken('tom', { groups: ['technicians'] });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function call(path: string, options: { method?: string; body?: string; token?: string | null; contentType?: string } = {}): Promise<{ status: number; body: any }> {
  const token = options.token === undefined ? operator : options.token;
  const response = await fetch(`${api}${path}`, {
    method: options.method ?? 'GET',
    headers: { ...(token ? { authorization: token } : {}), ...(options.contentType ? { 'content-type': options.contentType } : {}) },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const act = (deviceId: string, action: Record<string, unknown>) => call(`/devices/${deviceId}/actions`, { method: 'POST', body: JSON.stringify(action), contentType: 'application/json' });

/** Connects over MQTT/TLS once: whether the broker let it in. */
async function connects(device: KeyedCertificate, clientId: string): Promise<boolean> {
  const { client } = await connectOnce(endpoint, { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem }, clientId);
  if (client) await disconnect(client);
  return client !== undefined;
}

async function provisioned(deviceId: string): Promise<KeyedCertificate> {
  const device = await stack.device(deviceId, { registry: 'allow' });
  stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
  await stack.core.idle();
  expect((await stack.state(device)).status).toBe('ACTIVE');
  return device;
}

describe('who may call', () => {
  it('refuses a technician with 403 from the API, and a request without a token with 401', async () => {
    for (const path of ['/devices', '/decisions', '/failure-queue']) {
      const refused = await call(path, { token: technician });
      expect(refused).toMatchObject({ status: 403, body: { reason: 'group-not-allowed' } });
      expect((await call(path, { token: null })).status).toBe(401);
    }
    const action = await call('/devices/ANY-1/actions', { method: 'POST', body: '{"action":"block"}', token: technician, contentType: 'application/json' });
    expect(action).toMatchObject({ status: 403, body: { reason: 'group-not-allowed' } });
    // Nothing was written for the refused request.
    expect(await stack.registry.get('ANY-1')).toBeUndefined();
  });
});

describe('GET /devices', () => {
  beforeAll(async () => {
    for (let i = 0; i < 12; i++) await stack.registry.allow(`LIST-${String(i).padStart(4, '0')}`, {}, new Date());
    await stack.registry.allow('LISTLESS-1', {}, new Date());
    await stack.registry.block('LIST-0003', new Date());
    await stack.registry.block('LIST-0007', new Date());
  });

  it('lists a prefix in id order over several pages, each with a token for the next', async () => {
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await call(`/devices?prefix=LIST-&limit=5${token ? `&nextToken=${token}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(5);
      ids.push(...page.body.items.map((item: { deviceId: string }) => item.deviceId));
      token = page.body.nextToken;
      pages++;
    } while (token && pages < 10);
    expect(pages).toBe(3);
    expect(ids).toEqual(Array.from({ length: 12 }, (_, i) => `LIST-${String(i).padStart(4, '0')}`));
    const first = (await call('/devices?prefix=LIST-&limit=1')).body.items[0];
    expect(first).toMatchObject({ deviceId: 'LIST-0000', state: 'allowed', updatedAt: expect.any(String) });
  });

  it('filters by lifecycle state', async () => {
    const blocked = await call('/devices?prefix=LIST-&state=blocked');
    expect(blocked.body.items.map((item: { deviceId: string }) => item.deviceId)).toEqual(['LIST-0003', 'LIST-0007']);
    expect(blocked.body.nextToken).toBeUndefined();
  });

  it('refuses a forged nextToken with 400, never a 500', async () => {
    const forged = Buffer.from(JSON.stringify({ r: 'devices', after: { deviceId: 'x' } })).toString('base64url');
    expect(await call(`/devices?nextToken=${forged}`)).toMatchObject({ status: 400, body: { reason: 'next-token-invalid' } });
    expect(await call('/devices?nextToken=%25%25')).toMatchObject({ status: 400, body: { reason: 'query-invalid' } });
  });

  it('lists an entry written before the index once `devices reindex` backfilled it', async () => {
    const table = { client: createDocumentClient(), tableName: stack.deployed.tableName };
    await table.client.send(new PutCommand({ TableName: table.tableName, Item: { deviceId: 'OLD-0001', status: 'allowed' } }));
    expect((await call('/devices?prefix=OLD-')).body.items).toEqual([]);
    const result = await backfillListShards(table);
    expect(result.updated).toBeGreaterThanOrEqual(1);
    expect((await call('/devices?prefix=OLD-')).body.items).toEqual([expect.objectContaining({ deviceId: 'OLD-0001', state: 'allowed' })]);
    expect((await backfillListShards(table)).updated).toBe(0);
  });
});

describe('a device page', () => {
  it('shows a JITR device: its state, certificate, thing and timeline, newest first and paged', async () => {
    const device = await provisioned('PAGE-0001');
    // Re-declared by the operator: a second event on its timeline.
    expect((await act('PAGE-0001', { action: 'allow', thingGroup: stack.deployed.thingGroupName })).status).toBe(200);
    const page = await call('/devices/PAGE-0001');
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({
      deviceId: 'PAGE-0001',
      state: 'provisioned',
      entry: { certificateId: device.certificateId, bindingState: 'bound' },
      certificate: { certificateId: device.certificateId, status: 'ACTIVE', notBefore: expect.any(String), notAfter: expect.any(String) },
      thing: { thingName: 'PAGE-0001', thingGroups: expect.any(Array) },
    });
    const types = page.body.timeline.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['allowed', 'activated']);
    const first = await call('/devices/PAGE-0001?timelineLimit=1');
    expect(first.body.timeline.events).toHaveLength(1);
    const second = await call(`/devices/PAGE-0001?timelineLimit=1&timelineToken=${first.body.timeline.nextToken}`);
    expect(second.body.timeline.events[0].at <= first.body.timeline.events[0].at).toBe(true);
    expect(second.body.timeline.events[0]).not.toEqual(first.body.timeline.events[0]);
  });

  it('answers 404 for a device it has never heard of', async () => {
    expect(await call('/devices/NOBODY-0001')).toMatchObject({ status: 404, body: { reason: 'device-not-found' } });
  });
});

describe('actions', () => {
  it('suspends a device, which then cannot connect over MQTT, and names the user on the timeline; resume lets it in again', async () => {
    const device = await provisioned('ACT-0001');
    expect(await connects(device, 'ACT-0001')).toBe(true);

    const suspended = await act('ACT-0001', { action: 'suspend' });
    expect(suspended).toMatchObject({ status: 200, body: { deviceId: 'ACT-0001', action: 'suspend', outcome: 'done', state: 'suspended' } });
    expect((await stack.state(device)).status).toBe('INACTIVE');
    expect(await connects(device, 'ACT-0001')).toBe(false);
    // A retry is safe: nothing left to do.
    expect((await act('ACT-0001', { action: 'suspend' })).body.outcome).toBe('unchanged');

    const events = (await call('/devices/ACT-0001')).body.timeline.events;
    expect(events[0]).toMatchObject({ type: 'suspended', actor: { kind: 'user', id: expect.stringMatching(/^olga@example\.com \(/) } });

    expect((await act('ACT-0001', { action: 'resume' })).body.state).toBe('provisioned');
    expect(await connects(device, 'ACT-0001')).toBe(true);
  });

  it('answers a transition the lifecycle refuses with 409 and the reason', async () => {
    await stack.registry.allow('ACT-0002', {}, new Date());
    const refused = await act('ACT-0002', { action: 'suspend' });
    expect(refused).toMatchObject({ status: 409, body: { reason: 'transition-refused', action: 'suspend', state: 'allowed' } });
    expect(refused.body.message).toMatch(/no bound certificate to suspend/);
  });

  it('retires and blocks, recording each', async () => {
    await provisioned('ACT-0003');
    expect((await act('ACT-0003', { action: 'retire', keepThing: true })).body).toMatchObject({ outcome: 'done', state: 'retired' });
    expect((await act('ACT-0003', { action: 'block' })).body.state).toBe('blocked');
    const types = (await call('/devices/ACT-0003')).body.timeline.events.map((e: { type: string }) => e.type);
    expect(types.slice(0, 2)).toEqual(['blocked', 'retired']);
  });
});

describe('POST /devices/import', () => {
  it('imports a CSV: the valid rows, the invalid ones reported by line and not written, the user on each timeline', async () => {
    const csv = 'deviceId,thingGroup,attr.line\nIMP-0001,,A\nIMP-0002,,B\nnot an id,,C\nIMP-0003,,\n';
    const answer = await call('/devices/import', { method: 'POST', body: csv, contentType: 'text/csv' });
    expect(answer).toMatchObject({ status: 200, body: { complete: false, imported: 3, unchanged: 0, invalid: [{ line: 4 }] } });
    const listed = (await call('/devices?prefix=IMP-')).body.items.map((i: { deviceId: string; state: string }) => `${i.deviceId}:${i.state}`);
    expect(listed).toEqual(['IMP-0001:allowed', 'IMP-0002:allowed', 'IMP-0003:allowed']);
    expect((await call('/devices/IMP-0001')).body.timeline.events[0]).toMatchObject({ type: 'allowed', detail: 'import', actor: { kind: 'user' } });
    // The same file again changes nothing.
    expect((await call('/devices/import', { method: 'POST', body: csv, contentType: 'text/csv' })).body).toMatchObject({ imported: 0, unchanged: 3 });
  });

  it('imports 600 devices from NDJSON in one request, each on the list and on its timeline', async () => {
    const ndjson = Array.from({ length: 600 }, (_, i) => JSON.stringify({ deviceId: `BULK-${String(i).padStart(4, '0')}`, attributes: { batch: 'b1' } })).join('\n');
    const answer = await call('/devices/import', { method: 'POST', body: ndjson, contentType: 'application/x-ndjson' });
    expect(answer).toMatchObject({ status: 200, body: { complete: true, imported: 600, invalid: [] } });
    let listed = 0;
    let token: string | undefined;
    do {
      const page = await call(`/devices?prefix=BULK-&limit=100${token ? `&nextToken=${token}` : ''}`);
      listed += page.body.items.length;
      token = page.body.nextToken;
    } while (token);
    expect(listed).toBe(600);
    expect((await call('/devices/BULK-0599')).body.timeline.events).toEqual([expect.objectContaining({ type: 'allowed', detail: 'import' })]);
  });
});

describe('why, and the decisions', () => {
  it('diagnoses a refused device as `devices why --json` does', async () => {
    const device = await stack.device('WHY-API-1');
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    const why = await call('/devices/WHY-API-1/why');
    expect(why.status).toBe(200);
    expect(why.body.diagnosis).toMatchObject({ code: 'refused', sentence: expect.stringMatching(/device-not-allowlisted/) });
    expect(why.body.facts).toEqual(expect.any(Object));
  });

  it('lists the recent decisions with their reasons, and counts them per hour for the chart', async () => {
    const answer = await call('/decisions?limit=200');
    expect(answer.status).toBe(200);
    const items = answer.body.items as Array<{ deviceId: string; outcome: string; reason?: string; flow: string; at: string }>;
    expect(items).toEqual(expect.arrayContaining([
      expect.objectContaining({ deviceId: 'WHY-API-1', outcome: 'refused', reason: 'device-not-allowlisted', flow: 'jitr' }),
      expect.objectContaining({ deviceId: 'PAGE-0001', outcome: 'admitted', flow: 'jitr' }),
    ]));
    expect([...items].sort((a, b) => (a.at < b.at ? 1 : -1))).toEqual(items);
    expect(answer.body.chart.totals.refused['device-not-allowlisted']).toBeGreaterThanOrEqual(1);
    expect(answer.body.chart.totals.admitted).toBeGreaterThanOrEqual(3);
    expect(answer.body.chart.counted).toBe(items.length);

    // Paged: one at a time, the same decisions.
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await call(`/decisions?since=${encodeURIComponent(answer.body.since)}&limit=2${token ? `&nextToken=${token}` : ''}`);
      paged.push(...page.body.items.map((i: { deviceId: string; at: string }) => `${i.deviceId}@${i.at}`));
      token = page.body.nextToken;
    } while (token);
    expect(paged).toEqual(items.map((i) => `${i.deviceId}@${i.at}`));
  });

  it('caps the chart at its budget of decisions, says so, and counts the ones it read', async () => {
    const timeline = { client: createDocumentClient(), tableName: stack.deployed.timelineTableName };
    const window = { since: new Date(Date.now() - 3_600_000), now: new Date() };
    const all = await decisionChart(timeline, window, 20_000);
    expect(all.truncated).toBe(false);
    expect(all.counted).toBeGreaterThanOrEqual(3);
    const capped = await decisionChart(timeline, window, 2);
    expect(capped).toMatchObject({ counted: 2, truncated: true });
    const cappedTotal = capped.totals.admitted + Object.values(capped.totals.refused).reduce((a, b) => a + b, 0);
    expect(cappedTotal).toBe(2);
  });
});

describe('the failure queue', () => {
  it('counts and shows a failed registration without consuming it, and redrives it to its function', async () => {
    // A thing type that does not exist yet makes JITR's CreateThing fail on every attempt: the event ends in the failure queue.
    const device = await stack.device('FAIL-0001', { registry: 'allow', thingType: 'console-late-type' });
    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    const before = await call('/failure-queue');
    expect(before.status).toBe(200);
    expect(before.body.count).toBeGreaterThanOrEqual(1);
    expect(before.body.oldestAgeSeconds).toEqual(expect.any(Number));
    const message = before.body.messages.find((m: { body: string }) => m.body.includes(device.certificateId));
    expect(message).toMatchObject({ origin: expect.stringMatching(/function .*activateCertificate/), error: expect.stringMatching(/ResourceNotFoundException/) });
    // A peek leaves it there.
    expect((await call('/failure-queue')).body.count).toBe(before.body.count);

    await stack.iot.send(new CreateThingTypeCommand({ thingTypeName: 'console-late-type' }));
    const redriven = await call('/failure-queue/redrive', { method: 'POST', body: '{"max":50}', contentType: 'application/json' });
    expect(redriven.status).toBe(200);
    expect(redriven.body.redriven).toEqual(expect.arrayContaining([{ messageId: message.messageId, to: expect.stringMatching(/function .*activateCertificate/) }]));
    await stack.core.idle();
    expect((await stack.state(device)).status).toBe('ACTIVE');
    const after = await call('/failure-queue');
    expect(after.body.messages.some((m: { body: string }) => m.body.includes(device.certificateId))).toBe(false);
  });
});
