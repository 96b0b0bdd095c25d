import { formatMetricsSummary, LocalMetrics, percentile } from '../../local/lambda/local-metrics';

/** The local IoT Core's reading of EMF documents (local/lambda/local-metrics.ts), as CloudWatch Logs extracts them. */

const emf = (dimensions: Record<string, string>, metrics: Record<string, number | number[]>, unit = 'Count') => ({
  _aws: { Timestamp: 0, CloudWatchMetrics: [{ Namespace: 'IotProvisioner', Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: unit })) }] },
  ...dimensions,
  ...metrics,
});

it('files values by metric name and dimensions, lists included, and rejects what is not EMF', () => {
  const metrics = new LocalMetrics();
  metrics.record(emf({ service: 's', stage: 't', flow: 'hook', outcome: 'denied', reason: 'device-blocked' }, { Decisions: 1 }));
  metrics.record(emf({ service: 's', stage: 't', flow: 'hook', outcome: 'denied', reason: 'device-blocked' }, { Decisions: 1 }));
  metrics.record(emf({ service: 's', stage: 't', flow: 'jitr', outcome: 'activated', reason: 'admitted' }, { Decisions: 1 }));
  metrics.record(emf({ service: 's', stage: 't' }, { HookDecisionLatency: [10, 20, 300] }, 'Milliseconds'));
  metrics.record({ message: 'a log line' });

  expect(metrics.sum('Decisions', { flow: 'hook' })).toBe(2);
  expect(metrics.sum('Decisions')).toBe(3);
  expect(metrics.values('HookDecisionLatency')).toEqual([10, 20, 300]);
  expect(metrics.rejected).toBe(1);
  expect(metrics.summary().find((s) => s.name === 'HookDecisionLatency')).toMatchObject({ unit: 'Milliseconds', count: 3, sum: 330, p50: 20, p99: 300 });
  expect(formatMetricsSummary(metrics)).toMatch(/decisions hook: denied\/device-blocked 2\n\s+decisions jitr: activated\/admitted 1/);
});

it('takes the nearest-rank percentile', () => {
  expect(percentile([], 99)).toBe(0);
  expect(percentile([5, 1, 3], 50)).toBe(3);
  expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
});
