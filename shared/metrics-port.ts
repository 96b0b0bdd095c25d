/**
 * The metrics surface workflows use (shared/metrics.ts writes it as CloudWatch EMF with Powertools; tests
 * pass test/support/recording-metrics.ts or `NO_METRICS`). Every dimension value is one of a small, fixed set — a flow, an
 * outcome, a reason, an action — never a device, certificate or client id, so that each metric has a bounded
 * number of series (CloudWatch bills and alarms per series). A claim certificate id travels with a hook
 * decision as metadata only (a log field of the EMF line, not a dimension): the claim-abuse rule of
 * resources/observability.cjs counts refusals per claim from it.
 */

/** The flows that decide on a certificate: JITR (activate/reject), the pre-provisioning hook (allow/deny), vending (vend/refuse). */
export type DecisionFlow = 'jitr' | 'hook' | 'vending';

export interface Decision {
  flow: DecisionFlow;
  /** jitr: activated | rejected | already-active | ignored; hook: allowed | denied; vending: vended | refused | invalid | conflict. */
  outcome: string;
  /** The machine-readable reason (`admitted` when admitted). */
  reason: string;
  /** The hook's claim certificate: metadata on the EMF line, never a dimension. */
  claimCertificateId?: string;
}

/** Counts, each with the dimensions of METRIC_DIMENSIONS below. */
export type CountMetric = 'Activations' | 'ClaimsVended' | 'VendActions' | 'LifecycleActions' | 'Retirements' | 'ExpiryFindings' | 'Rotations';

export type DurationMetric = 'HookDecisionLatency';

export type MetricDimension = 'flow' | 'action' | 'outcome' | 'reason';

/**
 * The dimensions each metric is emitted with (besides the default ones, `service` and `stage`). A metric is
 * always emitted with all of its dimensions: CloudWatch matches an alarm's dimensions exactly.
 */
export const METRIC_DIMENSIONS = {
  Decisions: ['flow', 'outcome', 'reason'],
  Activations: ['flow'],
  ClaimsVended: [],
  VendActions: ['action', 'outcome'],
  LifecycleActions: ['action', 'outcome'],
  Retirements: ['outcome'],
  ExpiryFindings: ['reason'],
  /** Certificate rotation (issue 14): issued | refused (a refusal reason) | committed | rolled-back (the job status or the backend's reason). */
  Rotations: ['outcome', 'reason'],
  HookDecisionLatency: [],
} as const satisfies Record<CountMetric | DurationMetric | 'Decisions', readonly MetricDimension[]>;

type DimensionsOf<M extends keyof typeof METRIC_DIMENSIONS> = { [D in (typeof METRIC_DIMENSIONS)[M][number]]: string };

export interface Metrics {
  /** One decision on a certificate (metric `Decisions`). */
  decision(decision: Decision): void;
  /** `value` (1 unless said) of a count, with its dimensions. */
  count<M extends CountMetric>(metric: M, dimensions: DimensionsOf<M>, value?: number): void;
  /** A duration in milliseconds. */
  milliseconds(metric: DurationMetric, ms: number): void;
}

/** Records nothing (workflows whose deps carry no metrics). */
export const NO_METRICS: Metrics = {
  decision: () => undefined,
  count: () => undefined,
  milliseconds: () => undefined,
};
