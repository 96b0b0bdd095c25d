import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { loadMetricsConfig } from './config';
import { logger } from './logger';
import type { Metrics } from './metrics-port';

/**
 * The one metrics writer: CloudWatch embedded metric format (EMF) lines on stdout, which CloudWatch Logs turns
 * into metrics from the function's log group — no agent, no API call, so no cloudwatch:PutMetricData in any role
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
 *
 * Namespace `IotProvisioner` (POWERTOOLS_METRICS_NAMESPACE), one for every stage: the stage is a default
 * dimension, next to `service`, so that the alarms and the dashboard of a stage select it by dimension
 * and two stages in one account never mix. Metrics are flushed after every invocation by `metricsMiddleware`,
 * which also emits `ColdStart` (dimensions service, stage, function_name) on a container's first invocation.
 *
 * A metric with dimensions of its own (a decision's flow, outcome and reason) is written on its own EMF line
 * (Powertools' singleMetric): the dimensions of one EMF line apply to all its metrics.
 */

const config = loadMetricsConfig();

// Powertools warns through this logger when an invocation recorded no metric (an ordinary thing here: a
// custom resource request, a dropped event); that is not worth a warning line in every such invocation.
const quiet = { debug: logger.debug.bind(logger), info: logger.debug.bind(logger), warn: logger.debug.bind(logger), error: logger.error.bind(logger) };

export const powertoolsMetrics = new PowertoolsMetrics({
  namespace: config.namespace,
  serviceName: config.service,
  defaultDimensions: { stage: config.stage },
  logger: quiet,
});

export const metrics: Metrics = {
  decision({ flow, outcome, reason, claimCertificateId }) {
    const line = powertoolsMetrics.singleMetric();
    line.addDimensions({ flow, outcome, reason });
    if (claimCertificateId) line.addMetadata('claimCertificateId', claimCertificateId);
    line.addMetric('Decisions', MetricUnit.Count, 1);
  },
  count(name, dimensions, value = 1) {
    const entries = Object.entries(dimensions as Record<string, string>);
    if (entries.length === 0) {
      powertoolsMetrics.addMetric(name, MetricUnit.Count, value);
      return;
    }
    const line = powertoolsMetrics.singleMetric();
    line.addDimensions(Object.fromEntries(entries));
    line.addMetric(name, MetricUnit.Count, value);
  },
  milliseconds(name, ms) {
    powertoolsMetrics.addMetric(name, MetricUnit.Milliseconds, Math.round(ms));
  },
};

/** For every handler: `middy(lambdaHandler).use(injectLambdaContext(…)).use(metricsMiddleware())`. */
export const metricsMiddleware = () => logMetrics(powertoolsMetrics, { captureColdStartMetric: true });
