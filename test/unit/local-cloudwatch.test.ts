import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { LocalCloudWatch, statistic } from '../../local/cloudwatch/local-cloudwatch';
import { LocalMetrics } from '../../local/lambda/local-metrics';
import { readProvisioningMetrics } from '../../shared/aws/cloudwatch/provisioning-metrics';

/**
 * The local CloudWatch (local/cloudwatch/local-cloudwatch.ts) through the SDK's own CloudWatchClient (AWS JSON 1.0):
 * ListMetrics' filters, GetMetricData's windows and statistics, each account its own metrics, clear errors.
 */

const A = '111111111111';
const B = '222222222222';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const H = 3_600_000;

const emf = (at: number, dimensions: Record<string, string>, metrics: Record<string, number | number[]>, unit = 'Count') => ({
  _aws: { Timestamp: at, CloudWatchMetrics: [{ Namespace: 'IotProvisioner', Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: unit })) }] },
  ...dimensions,
  ...metrics,
});
const base = { service: 'iot-provisioner', stage: 'dev' };
const denied = { ...base, flow: 'hook', outcome: 'denied', reason: 'device-blocked' };

let metrics: LocalMetrics;
let cloudwatch: LocalCloudWatch;
let url: string;
const client = (accountId: string) => new CloudWatchClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: accountId, secretAccessKey: 'local' }, maxAttempts: 1 });

beforeAll(async () => {
  metrics = new LocalMetrics();
  cloudwatch = new LocalCloudWatch(metrics, () => new Date(NOW));
  url = await cloudwatch.listen();
  metrics.record(emf(NOW - 2 * H, denied, { Decisions: 1 }), A);
  metrics.record(emf(NOW - 30 * 60_000, denied, { Decisions: 1 }), A);
  metrics.record(emf(NOW - 5 * 60_000, denied, { Decisions: 1 }), A);
  metrics.record(emf(NOW - 20 * 24 * H, { ...base, flow: 'jitr', outcome: 'activated', reason: 'admitted' }, { Decisions: 1 }), A);
  metrics.record(emf(NOW - 10 * 60_000, base, { HookDecisionLatency: [10, 20, 30, 40, 1000] }, 'Milliseconds'), A);
  metrics.record(emf(NOW - 10 * 60_000, { ...base, stage: 'prod' }, { ClaimsVended: 4 }), A);
  metrics.record(emf(NOW - 10 * 60_000, denied, { Decisions: 7 }), B);
});

afterAll(() => cloudwatch.close());

const denialsOf = (stage = 'dev') => ({ Namespace: 'IotProvisioner', MetricName: 'Decisions', Dimensions: Object.entries({ ...denied, stage }).map(([Name, Value]) => ({ Name, Value })) });
const query = (id: string, stat: string, period = 3600, metric = denialsOf()): MetricDataQuery => ({ Id: id, MetricStat: { Metric: metric, Period: period, Stat: stat } });

describe('ListMetrics', () => {
  it('lists the series of the namespace that have every dimension filter, leaving out those silent for two weeks', async () => {
    const listed = await client(A).send(new ListMetricsCommand({ Namespace: 'IotProvisioner', Dimensions: [{ Name: 'stage', Value: 'dev' }] }));
    expect(listed.Metrics?.map((m) => m.MetricName).sort()).toEqual(['Decisions', 'HookDecisionLatency']);
    expect(listed.Metrics?.find((m) => m.MetricName === 'Decisions')?.Dimensions).toEqual(expect.arrayContaining([{ Name: 'reason', Value: 'device-blocked' }, { Name: 'stage', Value: 'dev' }]));
    const anyStage = await client(A).send(new ListMetricsCommand({ Namespace: 'IotProvisioner', Dimensions: [{ Name: 'stage' }] }));
    expect(anyStage.Metrics?.map((m) => m.MetricName).sort()).toEqual(['ClaimsVended', 'Decisions', 'HookDecisionLatency']);
    const byName = await client(A).send(new ListMetricsCommand({ MetricName: 'ClaimsVended' }));
    expect(byName.Metrics).toHaveLength(1);
    expect((await client(A).send(new ListMetricsCommand({ Namespace: 'Other' }))).Metrics).toEqual([]);
  });

  it('RecentlyActive PT3H keeps the series with data in the last three hours', async () => {
    metrics.record(emf(NOW - 4 * H, { ...base, outcome: 'retired' }, { Retirements: 1 }), A);
    const all = await client(A).send(new ListMetricsCommand({ MetricName: 'Retirements' }));
    const recent = await client(A).send(new ListMetricsCommand({ MetricName: 'Retirements', RecentlyActive: 'PT3H' }));
    expect([all.Metrics?.length, recent.Metrics?.length]).toEqual([1, 0]);
  });

  it('answers each account its own metrics', async () => {
    const b = await client(B).send(new ListMetricsCommand({ Namespace: 'IotProvisioner' }));
    expect(b.Metrics?.map((m) => m.MetricName)).toEqual(['Decisions']);
    expect((await client('333333333333').send(new ListMetricsCommand({}))).Metrics).toEqual([]);
  });
});

describe('GetMetricData', () => {
  it('windows the values (StartTime inclusive, EndTime exclusive) and buckets them by period from StartTime', async () => {
    const answer = await client(A).send(
      new GetMetricDataCommand({ StartTime: new Date(NOW - 3 * H), EndTime: new Date(NOW), MetricDataQueries: [query('all', 'Sum', 3 * 3600), query('hourly', 'Sum', 3600)], ScanBy: 'TimestampAscending' }),
    );
    const [all, hourly] = answer.MetricDataResults!;
    expect(all).toMatchObject({ Id: 'all', Values: [3], StatusCode: 'Complete' });
    expect(all!.Timestamps).toEqual([new Date(NOW - 3 * H)]);
    // 2 h ago falls in the second hour from StartTime, the two recent ones in the third.
    expect(hourly!.Values).toEqual([1, 2]);
    expect(hourly!.Timestamps).toEqual([new Date(NOW - 2 * H), new Date(NOW - H)]);
    const descending = await client(A).send(new GetMetricDataCommand({ StartTime: new Date(NOW - 3 * H), EndTime: new Date(NOW), MetricDataQueries: [query('hourly', 'Sum', 3600)] }));
    expect(descending.MetricDataResults![0]!.Values).toEqual([2, 1]);
    const edge = await client(A).send(new GetMetricDataCommand({ StartTime: new Date(NOW - 30 * 60_000), EndTime: new Date(NOW - 5 * 60_000), MetricDataQueries: [query('q', 'Sum', 3600)] }));
    expect(edge.MetricDataResults![0]!.Values).toEqual([1]);
  });

  it('computes Sum, SampleCount, Average, Minimum, Maximum and percentiles', async () => {
    const latency = { Namespace: 'IotProvisioner', MetricName: 'HookDecisionLatency', Dimensions: [{ Name: 'service', Value: 'iot-provisioner' }, { Name: 'stage', Value: 'dev' }] };
    const stats = ['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum', 'p50', 'p99', 'p99.9'];
    const answer = await client(A).send(
      new GetMetricDataCommand({ StartTime: new Date(NOW - H), EndTime: new Date(NOW), MetricDataQueries: stats.map((stat, i) => query(`s${i}`, stat, 3600, latency)) }),
    );
    expect(answer.MetricDataResults!.map((r) => r.Values![0])).toEqual([1100, 5, 220, 10, 1000, 30, 1000, 1000]);
  });

  it('matches a metric by all its dimensions exactly, and each account reads its own', async () => {
    const partial = { ...denialsOf(), Dimensions: [{ Name: 'stage', Value: 'dev' }] };
    const answer = await client(A).send(new GetMetricDataCommand({ StartTime: new Date(NOW - H), EndTime: new Date(NOW), MetricDataQueries: [query('partial', 'Sum', 3600, partial), query('prod', 'Sum', 3600, denialsOf('prod'))] }));
    expect(answer.MetricDataResults!.map((r) => r.Values)).toEqual([[], []]);
    const b = await client(B).send(new GetMetricDataCommand({ StartTime: new Date(NOW - H), EndTime: new Date(NOW), MetricDataQueries: [query('q', 'Sum')] }));
    expect(b.MetricDataResults![0]!.Values).toEqual([7]);
  });

  it.each([
    ['more than 500 queries', { MetricDataQueries: Array.from({ length: 501 }, (_, i) => query(`q${i}`, 'Sum')) }, 'InvalidParameterValueException', /500/],
    ['an Id in capitals', { MetricDataQueries: [query('Q1', 'Sum')] }, 'InvalidParameterValueException', /lowercase/],
    ['an Id twice', { MetricDataQueries: [query('q', 'Sum'), query('q', 'Sum')] }, 'InvalidParameterValueException', /more than one/],
    ['a period of 90 s', { MetricDataQueries: [query('q', 'Sum', 90)] }, 'InvalidParameterValueException', /Period/],
    ['a statistic not served', { MetricDataQueries: [query('q', 'tm99')] }, 'InvalidParameterValueException', /tm99 is not served/],
    ['metric math', { MetricDataQueries: [{ Id: 'e', Expression: 'SUM(METRICS())' }] }, 'InvalidParameterValueException', /not served/],
    ['an end before the start', { MetricDataQueries: [query('q', 'Sum')], StartTime: new Date(NOW), EndTime: new Date(NOW - H) }, 'InvalidParameterValueException', /StartTime must be less/],
  ])('refuses %s with a clear error', async (_, input, name, message) => {
    const sent = client(A).send(new GetMetricDataCommand({ StartTime: new Date(NOW - H), EndTime: new Date(NOW), ...input } as never));
    await expect(sent).rejects.toMatchObject({ name, message: expect.stringMatching(message), $metadata: { httpStatusCode: 400 } });
  });
});

it('refuses another operation, and a request without credentials', async () => {
  const other = await fetch(url, { method: 'POST', headers: { 'x-amz-target': 'GraniteServiceVersion20100801.PutMetricData', authorization: `AWS4-HMAC-SHA256 Credential=${A}/20261201/us-east-1/monitoring/aws4_request` }, body: '{}' });
  expect([other.status, ((await other.json()) as { __type: string }).__type]).toEqual([400, 'com.amazonaws.cloudwatch#UnknownOperationException']);
  const anonymous = await fetch(url, { method: 'POST', headers: { 'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics' }, body: '{}' });
  expect(anonymous.status).toBe(403);
});

it('takes the statistics of a list of values', () => {
  expect(statistic('p50', [3, 1, 2])).toBe(2);
  expect(() => statistic('IQM', [1])).toThrow(/IQM is not served/);
});

describe('readProvisioningMetrics (the consoleDevices route’s read)', () => {
  it('lists the stage’s series and reads them in calls of at most 500 queries, one period over the window', async () => {
    const many = new LocalMetrics();
    const server = new LocalCloudWatch(many, () => new Date(NOW));
    const local = await server.listen();
    try {
      // 600 series of one stage (far more than the real metrics have), and one of another stage.
      for (let i = 0; i < 600; i++) many.record(emf(NOW - 60_000, { ...base, flow: 'vending', outcome: 'refused', reason: `r${i}` }, { Decisions: 1 }), A);
      many.record(emf(NOW - 60_000, { ...base, stage: 'prod', flow: 'jitr' }, { Activations: 9 }), A);
      many.record(emf(NOW - 60_000, base, { HookDecisionLatency: [100, 200, 4000] }, 'Milliseconds'), A);
      const cw = new CloudWatchClient({ endpoint: local, region: 'us-east-1', credentials: { accessKeyId: A, secretAccessKey: 'local' } });
      const read = await readProvisioningMetrics(cw, { namespace: 'IotProvisioner', stage: 'dev', since: new Date(NOW - 24 * H), until: new Date(NOW) });
      expect(read.totals).toHaveLength(600);
      expect(read.totals.every((t) => t.metric === 'Decisions' && t.sum === 1 && !('stage' in t.dimensions) && t.dimensions.flow === 'vending')).toBe(true);
      expect(read.hookLatency).toEqual({ p50: 200, p99: 4000, count: 3 });
      expect(read.cost).toEqual({ metricsRequested: 603, getMetricDataCalls: 2, listMetricsCalls: 2 });
    } finally {
      await server.close();
    }
  });
});
