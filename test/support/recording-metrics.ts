import type { Metrics } from '../../shared/metrics-port';

/** One data point as a test sees it. */
export interface RecordedMetric {
  name: string;
  unit: 'Count' | 'Milliseconds';
  value: number;
  dimensions: Record<string, string>;
  metadata: Record<string, string>;
}

/** An in-memory Metrics for tests: what was recorded, in order. */
export function recordingMetrics(): Metrics & { recorded: RecordedMetric[] } {
  const recorded: RecordedMetric[] = [];
  return {
    recorded,
    decision: ({ flow, outcome, reason, claimCertificateId }) =>
      void recorded.push({
        name: 'Decisions',
        unit: 'Count',
        value: 1,
        dimensions: { flow, outcome, reason },
        metadata: claimCertificateId ? { claimCertificateId } : {},
      }),
    count: (name, dimensions, value = 1) => void recorded.push({ name, unit: 'Count', value, dimensions: { ...dimensions }, metadata: {} }),
    milliseconds: (name, ms) => void recorded.push({ name, unit: 'Milliseconds', value: ms, dimensions: {}, metadata: {} }),
  };
}
