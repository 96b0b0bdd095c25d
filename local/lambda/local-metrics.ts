/**
 * What CloudWatch would make of the functions' EMF lines: the local Lambda runtime hands each EMF document a
 * function prints (local/lambda/container.cjs) to `record`, which files its values by namespace, metric name
 * and dimensions, as CloudWatch Logs extracts them
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * each metric of a directive, under each of its dimension sets, with the dimension values read from the
 * document's top-level keys; a value may be a number or a list of numbers. Each value keeps the document's
 * `_aws.Timestamp` (ms since the epoch; the time of the recording when a document has none) and the account of
 * the function that printed it, so that the local CloudWatch (local/cloudwatch/local-cloudwatch.ts) can window
 * them and answer each account its own.
 */

export interface MetricSeries {
  /** The account of the function that printed the values ('' when the recorder named none). */
  accountId: string;
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
  values: number[];
  /** `timestamps[i]` is when `values[i]` was recorded (ms since the epoch). */
  timestamps: number[];
}

/** A series as `GET /_local/metrics` shows it. */
export interface MetricSummary {
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
  count: number;
  sum: number;
  p50: number;
  p99: number;
}

interface EmfDirective {
  Namespace?: unknown;
  Dimensions?: unknown;
  Metrics?: unknown;
}

/** The p-th percentile (nearest rank) of `values`, 0 when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const keyOf = (accountId: string, namespace: string, name: string, dimensions: Record<string, string>) =>
  JSON.stringify([accountId, namespace, name, Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b))]);

export class LocalMetrics {
  private readonly series = new Map<string, MetricSeries>();
  /** Documents that were not EMF (a directive missing its namespace, say): CloudWatch would drop them too. */
  rejected = 0;

  record(document: unknown, accountId = ''): void {
    const doc = document as Record<string, unknown> | null;
    const aws = doc?._aws as { CloudWatchMetrics?: unknown; Timestamp?: unknown } | undefined;
    const directives = aws?.CloudWatchMetrics;
    if (!doc || !Array.isArray(directives)) {
      this.rejected++;
      return;
    }
    const at = typeof aws?.Timestamp === 'number' && Number.isFinite(aws.Timestamp) ? aws.Timestamp : Date.now();
    for (const directive of directives as EmfDirective[]) {
      if (typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics) || !Array.isArray(directive.Dimensions)) {
        this.rejected++;
        continue;
      }
      for (const set of directive.Dimensions as unknown[]) {
        if (!Array.isArray(set)) continue;
        const dimensions: Record<string, string> = {};
        for (const key of set) if (typeof key === 'string' && typeof doc[key] === 'string') dimensions[key] = doc[key] as string;
        for (const metric of directive.Metrics as Array<{ Name?: unknown; Unit?: unknown }>) {
          if (typeof metric.Name !== 'string') continue;
          const raw = doc[metric.Name];
          const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
          if (values.length === 0) continue;
          const key = keyOf(accountId, directive.Namespace, metric.Name, dimensions);
          let series = this.series.get(key);
          if (!series) {
            series = { accountId, namespace: directive.Namespace, name: metric.Name, unit: typeof metric.Unit === 'string' ? metric.Unit : 'None', dimensions, values: [], timestamps: [] };
            this.series.set(key, series);
          }
          series.values.push(...values);
          series.timestamps.push(...values.map(() => at));
        }
      }
    }
  }

  /** Every series of `accountId`, as recorded (not copies: read, do not change). */
  seriesOf(accountId: string): MetricSeries[] {
    return [...this.series.values()].filter((s) => s.accountId === accountId);
  }

  /** The series of metric `name` whose dimensions include `dimensions` (every account's). */
  find(name: string, dimensions: Record<string, string> = {}): MetricSeries[] {
    return [...this.series.values()].filter((s) => s.name === name && Object.entries(dimensions).every(([k, v]) => s.dimensions[k] === v));
  }

  /** The sum of metric `name` over the series that match `dimensions`. */
  sum(name: string, dimensions: Record<string, string> = {}): number {
    return this.find(name, dimensions).reduce((total, s) => total + s.values.reduce((a, b) => a + b, 0), 0);
  }

  /** All values of metric `name` over the matching series. */
  values(name: string, dimensions: Record<string, string> = {}): number[] {
    return this.find(name, dimensions).flatMap((s) => s.values);
  }

  summary(): MetricSummary[] {
    return [...this.series.values()]
      .map((s) => ({
        namespace: s.namespace,
        name: s.name,
        unit: s.unit,
        dimensions: s.dimensions,
        count: s.values.length,
        sum: s.values.reduce((a, b) => a + b, 0),
        p50: percentile(s.values, 50),
        p99: percentile(s.values, 99),
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || JSON.stringify(a.dimensions).localeCompare(JSON.stringify(b.dimensions)));
  }

  clear(): void {
    this.series.clear();
    this.rejected = 0;
  }
}

/**
 * A short report of the provisioning metrics: decisions by flow/outcome/reason, activations, claims vended, the
 * hook's latency (p50/p99) and cold starts by function. `npm start` prints it after its table.
 */
export function formatMetricsSummary(
  metrics: LocalMetrics,
  options: { accountId?: string; heading?: string } = {},
): string {
  const lines: string[] = [options.heading ?? 'metrics (EMF lines the functions printed, as CloudWatch would extract them):'];
  // CloudWatch keeps each account's metrics apart: with `accountId`, that account's only.
  const find = (name: string) => metrics.find(name).filter((s) => options.accountId === undefined || s.accountId === options.accountId);
  const valuesOf = (name: string) => find(name).flatMap((s) => s.values);
  const sumOf = (name: string) => valuesOf(name).reduce((a, b) => a + b, 0);
  const decisions = find('Decisions');
  const byFlow = new Map<string, string[]>();
  for (const s of decisions.sort((a, b) => (a.dimensions.reason ?? '').localeCompare(b.dimensions.reason ?? ''))) {
    const flow = s.dimensions.flow ?? '?';
    const total = s.values.reduce((a, b) => a + b, 0);
    byFlow.set(flow, [...(byFlow.get(flow) ?? []), `${s.dimensions.outcome}/${s.dimensions.reason} ${total}`]);
  }
  for (const [flow, parts] of [...byFlow].sort(([a], [b]) => a.localeCompare(b))) lines.push(`  decisions ${flow}: ${parts.join(', ')}`);
  const activations = find('Activations').map((s) => `${s.dimensions.flow} ${s.values.reduce((a, b) => a + b, 0)}`);
  lines.push(`  activations: ${activations.join(', ') || 'none'}; claims vended: ${sumOf('ClaimsVended')}`);
  const latency = valuesOf('HookDecisionLatency');
  if (latency.length > 0) lines.push(`  hook decision latency: p50 ${percentile(latency, 50)} ms, p99 ${percentile(latency, 99)} ms over ${latency.length} decisions (AWS IoT waits 5000 ms)`);
  const vends = find('VendActions').map((s) => `${s.dimensions.action}/${s.dimensions.outcome} ${s.values.reduce((a, b) => a + b, 0)}`);
  if (vends.length) lines.push(`  vending actions: ${vends.join(', ')}`);
  const retirements = find('Retirements').map((s) => `${s.dimensions.outcome} ${s.values.reduce((a, b) => a + b, 0)}`);
  if (retirements.length) lines.push(`  retirements: ${retirements.join(', ')}`);
  const rotations = find('Rotations').map((s) => `${s.dimensions.outcome}${s.dimensions.reason === 'none' ? '' : `/${s.dimensions.reason}`} ${s.values.reduce((a, b) => a + b, 0)}`);
  if (rotations.length) lines.push(`  rotations: ${rotations.join(', ')}`);
  const findings = find('ExpiryFindings').map((s) => `${s.dimensions.reason} ${s.values.reduce((a, b) => a + b, 0)}`);
  if (findings.length) lines.push(`  expiry findings: ${findings.join(', ')}`);
  const coldStarts = find('ColdStart');
  const byFunction = coldStarts.map((s) => `${(s.dimensions.function_name ?? '?').replace(/^.*-/, '')} ${s.values.reduce((a, b) => a + b, 0)}`);
  lines.push(`  cold starts: ${sumOf('ColdStart')}${byFunction.length ? ` (${byFunction.join(', ')})` : ''}`);
  return lines.join('\n');
}
