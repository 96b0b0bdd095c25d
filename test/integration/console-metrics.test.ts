import { runFleetDevice, type Endpoint, type Identity } from '../../local/sandbox/simulator';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * The operator home's figures end to end: JITR first connects and fleet provisioning over MQTT run the real
 * handlers in the local IoT Core, whose EMF lines the local Lambda runtime collects; GET /metrics (consoleDevices)
 * reads them back through the local CloudWatch (ListMetrics, GetMetricData) as it reads CloudWatch on AWS.
 */

let stack: LocalStack;
let endpoint: Endpoint;
let api: string;
let operator: string;

beforeAll(async () => {
  stack = await startLocalStack({ core: { mqtt: { port: 0 } } });
  endpoint = stack.endpoint!;
  api = stack.core.endpoints.http!;
  operator = await stack.core.issueToken('olga', { groups: ['operators'] });
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

async function metrics(query: string, token: string = operator): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api}/metrics${query}`, { headers: { authorization: token } });
  return { status: response.status, body: await response.json() };
}

async function vendClaim(): Promise<Identity & { templateName: string }> {
  const response = await fetch(`${api}/provisioning-claims`, { method: 'POST', headers: { authorization: await stack.core.issueToken('tom', { groups: ['technicians'] }) }, body: '{}' });
  expect(response.status).toBe(201);
  const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
  return { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey, templateName: claim.templateName };
}

it('refuses a technician (403) and a window it does not offer (400)', async () => {
  expect(await metrics('', await stack.core.issueToken('tom', { groups: ['technicians'] }))).toMatchObject({ status: 403, body: { reason: 'group-not-allowed' } });
  expect(await metrics('?hours=2')).toMatchObject({ status: 400, body: { reason: 'query-invalid', issues: [{ path: 'hours' }] } });
});

it('shows the decisions, activations, claims and hook latency of a run, as the functions emitted them', async () => {
  const before = (await metrics('?hours=1')).body;
  expect(before.decisions).toEqual([]);

  // JITR: two allow-listed devices activated, one refused.
  for (const id of ['HOME-J1', 'HOME-J2']) stack.core.firstConnect(stack.chain(await stack.device(id, { registry: 'allow' })), stack.dataEndpoint);
  stack.core.firstConnect(stack.chain(await stack.device('HOME-J3')), stack.dataEndpoint);
  // The hook: one allow-listed serial provisioned, one refused.
  await stack.registry.allow('HOME-F1', {}, new Date());
  const claim = await vendClaim();
  expect(await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'HOME-F1', api: 'create' })).toMatchObject({ outcome: 'provisioned' });
  expect((await runFleetDevice({ endpoint, claim, templateName: claim.templateName, serialNumber: 'HOME-F2', api: 'create' })).outcome).not.toBe('provisioned');
  await stack.core.idle();

  const { status, body } = await metrics('?hours=1');
  expect(status).toBe(200);
  expect(body.hours).toBe(1);
  expect(Date.parse(body.until) - Date.parse(body.since)).toBe(3_600_000);
  const count = (flow: string, outcome: string, reason?: string) =>
    body.decisions.filter((d: any) => d.flow === flow && d.outcome === outcome && (reason === undefined || d.reason === reason)).reduce((n: number, d: any) => n + d.count, 0);
  expect(count('jitr', 'activated', 'admitted')).toBe(2);
  expect(count('jitr', 'rejected', 'device-not-allowlisted')).toBe(1);
  expect(count('hook', 'allowed', 'admitted')).toBe(1);
  expect(count('hook', 'denied')).toBe(1);
  expect(body.activations).toEqual(expect.arrayContaining([{ flow: 'jitr', count: 2 }, { flow: 'hook', count: 1 }]));
  expect(body.claimsVended).toBe(1);
  expect(body.hookLatencyMs).toMatchObject({ decisions: 2, budget: 5000, deadline: 3000 });
  expect(body.hookLatencyMs.p50).toBeGreaterThanOrEqual(0);
  expect(body.hookLatencyMs.p99).toBeGreaterThanOrEqual(body.hookLatencyMs.p50);
  expect(body.coldStarts.some((c: any) => /preProvisioningHook$/.test(c.function))).toBe(true);
  // The same figures as the EMF lines the local Lambda runtime collected.
  expect(body.decisions.reduce((n: number, d: any) => n + d.count, 0)).toBe(stack.core.metrics.sum('Decisions'));
  expect(body.cost.metricsRequested).toBeGreaterThan(body.decisions.length);
}, 120_000);
