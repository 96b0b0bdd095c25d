import { GetMetricDataCommand, ListMetricsCommand, type CloudWatchClient, type Metric, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { METRIC_DIMENSIONS } from '../../metrics-port';

/**
 * The stage's provisioning metrics over a window, read back from CloudWatch for the console's operator home:
 * `ListMetrics` (namespace, filtered to this stage's `stage` dimension; 500 metrics a page) names the series —
 * one per dimension set the functions emitted (shared/metrics.ts) — and `GetMetricData` reads each with one
 * period over the whole window: `Sum` for the counts, and `p50`, `p99` and `SampleCount` for
 * HookDecisionLatency. At most 500 queries go in one GetMetricData call
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html), so more are sent
 * in several.
 *
 * What it costs (https://aws.amazon.com/cloudwatch/pricing/, us-east-1): GetMetricData is billed per metric
 * requested, $0.01 per 1,000 — one per query, so about one per series (the stage has a few dozen: decisions
 * by flow, outcome and reason, activations by flow, cold starts by function …) plus 2 for the latency's
 * percentiles; ListMetrics $0.01 per 1,000 requests, one per 500 series. A home page view of 40 series costs
 * about $0.0004.
 */

/** The metrics the home page shows (those of METRIC_DIMENSIONS, and Powertools' ColdStart). */
const METRIC_NAMES = new Set<string>([...Object.keys(METRIC_DIMENSIONS), 'ColdStart']);
/** Dimensions every series has (shared/metrics.ts' defaults): not part of what the page groups by. */
const DEFAULT_DIMENSIONS = new Set(['service', 'stage']);
export const MAX_QUERIES_PER_CALL = 500;

export interface MetricsWindow {
  namespace: string;
  stage: string;
  since: Date;
  until: Date;
}

/** One series' total over the window, with its own dimensions (service and stage left out). */
export interface SeriesTotal {
  metric: string;
  dimensions: Record<string, string>;
  sum: number;
}

export interface ProvisioningMetrics {
  totals: SeriesTotal[];
  /** The hook's decision latency over the window (ms); null without any decision. */
  hookLatency: { p50: number; p99: number; count: number } | null;
  /** Metrics requested from GetMetricData (what it bills), and the calls made. */
  cost: { metricsRequested: number; getMetricDataCalls: number; listMetricsCalls: number };
}

async function listStageMetrics(client: CloudWatchClient, window: MetricsWindow): Promise<{ metrics: Metric[]; calls: number }> {
  const metrics: Metric[] = [];
  let nextToken: string | undefined;
  let calls = 0;
  do {
    const page = await client.send(new ListMetricsCommand({ Namespace: window.namespace, Dimensions: [{ Name: 'stage', Value: window.stage }], ...(nextToken ? { NextToken: nextToken } : {}) }));
    calls++;
    metrics.push(...(page.Metrics ?? []).filter((m) => m.MetricName && METRIC_NAMES.has(m.MetricName)));
    nextToken = page.NextToken;
  } while (nextToken);
  return { metrics, calls };
}

/** Runs `queries` in calls of at most 500, following each call's NextToken; answers each query's values by Id. */
async function metricData(client: CloudWatchClient, queries: MetricDataQuery[], window: MetricsWindow): Promise<{ values: Map<string, number[]>; calls: number }> {
  const values = new Map<string, number[]>();
  let calls = 0;
  for (let i = 0; i < queries.length; i += MAX_QUERIES_PER_CALL) {
    const batch = queries.slice(i, i + MAX_QUERIES_PER_CALL);
    let nextToken: string | undefined;
    do {
      const answer = await client.send(
        new GetMetricDataCommand({ MetricDataQueries: batch, StartTime: window.since, EndTime: window.until, ...(nextToken ? { NextToken: nextToken } : {}) }),
      );
      calls++;
      for (const result of answer.MetricDataResults ?? []) if (result.Id) values.set(result.Id, [...(values.get(result.Id) ?? []), ...(result.Values ?? [])]);
      nextToken = answer.NextToken;
    } while (nextToken);
  }
  return { values, calls };
}

export async function readProvisioningMetrics(client: CloudWatchClient, window: MetricsWindow): Promise<ProvisioningMetrics> {
  const listed = await listStageMetrics(client, window);
  // One period over the whole window, a multiple of 60 s (GetMetricData's rule for periods over 30 s).
  const period = Math.max(60, Math.ceil((window.until.getTime() - window.since.getTime()) / 60_000) * 60);
  const stat = (id: string, metric: Metric, name: string): MetricDataQuery => ({ Id: id, MetricStat: { Metric: metric, Period: period, Stat: name }, ReturnData: true });
  const queries: MetricDataQuery[] = [];
  const counted: Array<{ id: string; metric: Metric }> = [];
  // Percentiles of several series cannot be combined: the hook's latency is read from its series with the most
  // samples (one per stage and service; a second appears only when the service was renamed).
  const latencySeries = listed.metrics.filter((m) => m.MetricName === 'HookDecisionLatency');
  listed.metrics.forEach((metric, i) => {
    if (metric.MetricName === 'HookDecisionLatency') return;
    queries.push(stat(`s${i}`, metric, 'Sum'));
    counted.push({ id: `s${i}`, metric });
  });
  latencySeries.forEach((metric, i) => queries.push(stat(`n${i}`, metric, 'SampleCount'), stat(`a${i}`, metric, 'p50'), stat(`b${i}`, metric, 'p99')));
  const data = queries.length ? await metricData(client, queries, window) : { values: new Map<string, number[]>(), calls: 0 };
  const total = (id: string) => (data.values.get(id) ?? []).reduce((a, b) => a + b, 0);

  const totals = counted
    .map(({ id, metric }) => ({
      metric: metric.MetricName!,
      dimensions: Object.fromEntries((metric.Dimensions ?? []).filter((d) => d.Name && !DEFAULT_DIMENSIONS.has(d.Name)).map((d) => [d.Name!, d.Value ?? ''])),
      sum: total(id),
    }))
    .filter((t) => t.sum > 0);
  let hookLatency: ProvisioningMetrics['hookLatency'] = null;
  latencySeries.forEach((_, i) => {
    const count = total(`n${i}`);
    const p50 = data.values.get(`a${i}`)?.[0];
    const p99 = data.values.get(`b${i}`)?.[0];
    if (count > 0 && p50 !== undefined && p99 !== undefined && (!hookLatency || count > hookLatency.count)) hookLatency = { p50, p99, count };
  });
  return { totals, hookLatency, cost: { metricsRequested: queries.length, getMetricDataCalls: data.calls, listMetricsCalls: listed.calls } };
}
