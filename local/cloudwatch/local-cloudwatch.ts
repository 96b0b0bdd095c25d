import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { percentile, type LocalMetrics, type MetricSeries } from '../lambda/local-metrics';
import { closeServer, listenOn } from '../net';
import { accessKeyIdOf, accountOfAccessKey } from '../iam/access-keys';

/**
 * CloudWatch's metric reads, on loopback, answered from the EMF documents the local Lambda runtime collected
 * (local/lambda/local-metrics.ts): `ListMetrics` and `GetMetricData` with `MetricStat` queries, in the AWS JSON
 * 1.0 protocol the SDK's CloudWatchClient sends (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`,
 * timestamps as epoch seconds; @aws-sdk/client-cloudwatch's protocolSettings). Each account sees its own metrics
 * (the access key id names the account, as the other stand-ins read it).
 *
 * As the API Reference describes them
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html):
 * - ListMetrics filters by namespace and metric name exactly, and by dimension filters (a name, with or without
 *   a value) that a metric must all have; it answers up to 500 metrics a call, with a NextToken; RecentlyActive
 *   accepts only `PT3H`. Metrics without data for two weeks are not listed.
 * - GetMetricData takes 1-500 queries, each with an Id (a lowercase letter, then letters, digits, `_`) unique in
 *   the request; a MetricStat names one metric by namespace, name and all its dimensions (exact match), a
 *   period (1, 5, 10, 20, 30 or a multiple of 60 seconds) and a statistic: Sum, SampleCount, Average, Minimum,
 *   Maximum or a percentile pNN(.N). StartTime is inclusive, EndTime exclusive; the periods start at StartTime
 *   and only periods with data have a datapoint, newest first unless ScanBy is TimestampAscending.
 * Metric math (`Expression`), Metrics Insights and the other extended statistics are not served: they answer
 * a clear InvalidParameterValue error rather than a wrong number. Other operations answer
 * UnknownOperationException.
 */

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const LIST_PAGE = 500;
const MAX_QUERIES = 500;
const TWO_WEEKS_MS = 14 * 24 * 3_600_000;
const THREE_HOURS_MS = 3 * 3_600_000;

export class CloudWatchError extends Error {
  constructor(
    /** The Query-protocol code (x-amzn-query-error) and the JSON `__type` the SDK maps to its exception. */
    readonly code: 'InvalidParameterValue' | 'InvalidParameterCombination' | 'MissingParameter' | 'InvalidNextToken' | 'UnknownOperationException' | 'InvalidClientTokenId' | 'InternalServiceError',
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }

  get type(): string {
    const types: Record<string, string> = {
      InvalidParameterValue: 'InvalidParameterValueException',
      InvalidParameterCombination: 'InvalidParameterCombinationException',
      MissingParameter: 'MissingRequiredParameterException',
      InternalServiceError: 'InternalServiceFault',
    };
    return types[this.code] ?? this.code;
  }
}

interface Dimension {
  Name: string;
  Value: string;
}

const invalid = (message: string) => new CloudWatchError('InvalidParameterValue', message);

function dimensionsOf(series: MetricSeries): Dimension[] {
  return Object.entries(series.dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Name, Value]) => ({ Name, Value }));
}

/** Epoch seconds (the JSON protocol's timestamps) to ms; ISO text is accepted too. */
function timeOf(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  if (value === undefined) throw new CloudWatchError('MissingParameter', `The parameter ${name} is required.`);
  throw invalid(`The parameter ${name} must be a timestamp.`);
}

/** The statistic `stat` of `values` (not empty), or a clear error for one not served here. */
export function statistic(stat: string, values: readonly number[]): number {
  switch (stat) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
  }
  const p = /^p(\d{1,2}(\.\d{1,2})?|100)$/.exec(stat);
  if (p) return percentile(values, Number(p[1]));
  throw invalid(`The statistic ${stat} is not served by the local CloudWatch (Sum, SampleCount, Average, Minimum, Maximum, pNN).`);
}

export class LocalCloudWatch {
  private readonly server: Server;

  constructor(
    private readonly metrics: LocalMetrics,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  listMetrics(accountId: string, input: Record<string, unknown>): Record<string, unknown> {
    const filters = (input.Dimensions ?? []) as Array<{ Name?: unknown; Value?: unknown }>;
    if (!Array.isArray(filters) || filters.length > 10) throw invalid('Dimensions must be a list of at most 10 dimension filters.');
    for (const f of filters) if (typeof f?.Name !== 'string' || f.Name === '') throw new CloudWatchError('MissingParameter', 'A dimension filter requires a Name.');
    if (input.RecentlyActive !== undefined && input.RecentlyActive !== 'PT3H') throw invalid('RecentlyActive accepts only PT3H.');
    const now = this.now().getTime();
    const since = input.RecentlyActive === 'PT3H' ? now - THREE_HOURS_MS : now - TWO_WEEKS_MS;
    const offset = typeof input.NextToken === 'string' ? Number.parseInt(Buffer.from(input.NextToken, 'base64url').toString('utf8'), 10) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new CloudWatchError('InvalidNextToken', 'The specified NextToken is invalid.');
    const matching = this.metrics
      .seriesOf(accountId)
      .filter(
        (s) =>
          (input.Namespace === undefined || s.namespace === input.Namespace) &&
          (input.MetricName === undefined || s.name === input.MetricName) &&
          filters.every((f) => (f.Name as string) in s.dimensions && (f.Value === undefined || s.dimensions[f.Name as string] === f.Value)) &&
          s.timestamps.some((at) => at >= since),
      )
      .map((s) => ({ Namespace: s.namespace, MetricName: s.name, Dimensions: dimensionsOf(s) }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const page = matching.slice(offset, offset + LIST_PAGE);
    const next = offset + page.length < matching.length ? Buffer.from(String(offset + page.length)).toString('base64url') : undefined;
    return { Metrics: page, ...(next ? { NextToken: next } : {}) };
  }

  getMetricData(accountId: string, input: Record<string, unknown>): Record<string, unknown> {
    const queries = input.MetricDataQueries as Array<Record<string, unknown>> | undefined;
    if (!Array.isArray(queries) || queries.length === 0) throw new CloudWatchError('MissingParameter', 'The parameter MetricDataQueries is required.');
    if (queries.length > MAX_QUERIES) throw invalid(`The collection MetricDataQueries must not have more than ${MAX_QUERIES} members.`);
    const start = timeOf(input.StartTime, 'StartTime');
    const end = timeOf(input.EndTime, 'EndTime');
    if (end <= start) throw invalid('The parameter StartTime must be less than the parameter EndTime.');
    if (input.NextToken !== undefined) throw new CloudWatchError('InvalidNextToken', 'The specified NextToken is invalid.');
    const ascending = input.ScanBy === 'TimestampAscending';
    if (input.ScanBy !== undefined && input.ScanBy !== 'TimestampAscending' && input.ScanBy !== 'TimestampDescending') throw invalid('ScanBy must be TimestampDescending or TimestampAscending.');
    const ids = new Set<string>();
    const series = this.metrics.seriesOf(accountId);
    const results = queries.map((query) => {
      const id = query?.Id;
      if (typeof id !== 'string' || !/^[a-z][a-zA-Z0-9_]{0,254}$/.test(id)) throw invalid(`The Id ${String(id)} must start with a lowercase letter and hold only letters, digits and _.`);
      if (ids.has(id)) throw invalid(`The Id ${id} is used by more than one query.`);
      ids.add(id);
      if (query.Expression !== undefined) throw invalid(`Query ${id}: metric math and Metrics Insights expressions are not served by the local CloudWatch; use MetricStat.`);
      const stat = query.MetricStat as { Metric?: { Namespace?: unknown; MetricName?: unknown; Dimensions?: Array<{ Name?: unknown; Value?: unknown }> }; Period?: unknown; Stat?: unknown } | undefined;
      if (!stat?.Metric || typeof stat.Metric.Namespace !== 'string' || typeof stat.Metric.MetricName !== 'string') {
        throw new CloudWatchError('MissingParameter', `Query ${id}: MetricStat with Metric.Namespace and Metric.MetricName is required.`);
      }
      const period = stat.Period;
      if (typeof period !== 'number' || !Number.isInteger(period) || !([1, 5, 10, 20, 30].includes(period) || (period > 0 && period % 60 === 0))) {
        throw invalid(`Query ${id}: Period must be 1, 5, 10, 20, 30 or a multiple of 60 seconds.`);
      }
      if (typeof stat.Stat !== 'string') throw new CloudWatchError('MissingParameter', `Query ${id}: MetricStat.Stat is required.`);
      const wanted = Object.fromEntries((stat.Metric.Dimensions ?? []).map((d) => [String(d.Name), String(d.Value)]));
      const metric = series.find(
        (s) =>
          s.namespace === stat.Metric!.Namespace &&
          s.name === stat.Metric!.MetricName &&
          Object.keys(s.dimensions).length === Object.keys(wanted).length &&
          Object.entries(wanted).every(([k, v]) => s.dimensions[k] === v),
      );
      const buckets = new Map<number, number[]>();
      if (metric) {
        metric.timestamps.forEach((at, i) => {
          if (at < start || at >= end) return;
          const bucket = start + Math.floor((at - start) / (period * 1000)) * period * 1000;
          buckets.set(bucket, [...(buckets.get(bucket) ?? []), metric.values[i]!]);
        });
      }
      const points = [...buckets].sort(([a], [b]) => (ascending ? a - b : b - a));
      const stated = points.map(([, values]) => statistic(stat.Stat as string, values));
      if (points.length === 0) statistic(stat.Stat, [0]); // an unknown statistic is an error even without data
      return {
        Id: id,
        Label: typeof query.Label === 'string' ? query.Label : stat.Metric.MetricName,
        Timestamps: points.map(([at]) => at / 1000),
        Values: stated,
        StatusCode: 'Complete',
        returnData: query.ReturnData !== false,
      };
    });
    return { MetricDataResults: results.filter((r) => r.returnData).map(({ returnData: _, ...r }) => r), Messages: [] };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, ...headers });
      response.end(JSON.stringify(body));
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const accountId = accountOfAccessKey(accessKeyIdOf(request.headers.authorization));
      if (!accountId) throw new CloudWatchError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
      const target = String(request.headers['x-amz-target'] ?? '');
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw invalid('The request body is not JSON.');
      }
      if (target === `${TARGET_PREFIX}ListMetrics`) answer(200, this.listMetrics(accountId, input));
      else if (target === `${TARGET_PREFIX}GetMetricData`) answer(200, this.getMetricData(accountId, input));
      else throw new CloudWatchError('UnknownOperationException', `${target || '(no operation)'} is not served by the local CloudWatch (ListMetrics, GetMetricData)`);
    } catch (error) {
      const e = error instanceof CloudWatchError ? error : new CloudWatchError('InternalServiceError', (error as Error).message, 500);
      // CloudWatch's JSON protocol is Query-compatible: the SDK reads the Query error code from this header.
      answer(e.status, { __type: `com.amazonaws.cloudwatch#${e.type}`, message: e.message }, { 'x-amzn-query-error': `${e.code};${e.status < 500 ? 'Sender' : 'Receiver'}` });
    }
  }
}
