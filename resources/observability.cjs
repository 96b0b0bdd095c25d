'use strict';
/**
 * Observability (issue 12 §3): the alarms topic (with an optional e-mail subscription, stage parameter
 * `alarmEmail`), the CloudWatch alarms, the claim-refusals Contributor Insights rule and the dashboard.
 *
 * The functions write their metrics as EMF lines (shared/metrics.ts), which CloudWatch Logs extracts from each
 * function's log group: no role needs cloudwatch:PutMetricData
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
 * Their dimensions always include `service` and `stage`; CloudWatch matches an alarm's dimensions exactly, so the
 * alarms name both (`ownDimensions`).
 */

/**
 * The hook's time: AWS IoT waits 5 s for the answer (aws-iot-reference §3.3; serverless.yml's `timeout: 5`), and
 * the decision has a deadline of its own inside that (HOOK_DEADLINE_MS), after which it denies. The p99 alarm
 * fires at 80 % of the decision's deadline: near it, before refusals for `deadline-exceeded` begin.
 * test/unit/observability.test.ts checks these against serverless.yml.
 */
const HOOK = { timeoutMs: 5000, decisionDeadlineMs: 3000 };
const HOOK_P99_THRESHOLD_MS = Math.round(HOOK.decisionDeadlineMs * 0.8);

/** The oldest message of the failure queue may wait this long for an operator before the age alarm fires. */
const FAILURE_AGE_THRESHOLD_SECONDS = 3600;

/** Refusals of one claim certificate in five minutes that count as abuse (a leaked or replayed claim). */
const CLAIM_ABUSE_REFUSALS = 10;

/** The retirement queue's failed attempts in 15 minutes: it redrives after 5 receives (resources/storage.cjs). */
const RETIREMENT_FAILURES = 3;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** `alarmEmail`: '' (no subscription) or one address. */
function alarmEmailOf(value) {
  const email = String(value ?? '').trim();
  if (email && !EMAIL.test(email)) throw new Error(`alarmEmail: "${email}" is not an e-mail address`);
  return email;
}

const pascal = (name) => name[0].toUpperCase() + name.slice(1);

function observabilityResources({ settings, names, FUNCTIONS }) {
  const alarmEmail = alarmEmailOf(settings.alarmEmail);
  const prefix = `${settings.service}-${settings.stage}`;
  const topic = { Ref: 'AlarmsTopic' };
  const ownDimensions = (extra = {}) =>
    Object.entries({ service: settings.service, stage: settings.stage, ...extra }).map(([Name, Value]) => ({ Name, Value }));

  /** An alarm with the topic as its alarm and OK action; no data is "all well" (an idle stage is not broken). */
  const alarm = (name, description, properties) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${prefix}-${name}`,
      AlarmDescription: description,
      ActionsEnabled: true,
      AlarmActions: [topic],
      OKActions: [topic],
      TreatMissingData: 'notBreaching',
      ...properties,
    },
  });
  const failureQueueName = { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'QueueName'] };

  const Resources = {
    // Not encrypted: CloudWatch can publish to an encrypted topic only with a customer managed key whose policy
    // grants it (the AWS managed aws/sns key's policy cannot: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services),
    // and an alarm notification carries the alarm's state and reason, nothing secret.
    AlarmsTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: names.alarmsTopic, DisplayName: `${prefix} alarms` },
    },

    // ---- the failure queue: JITR's and the sweep's async failures, rule errors, the retirements' dead letters ----
    FailureQueueMessagesAlarm: alarm('failure-queue-messages', 'The failure queue holds messages: a provisioning, sweep or retirement failed for good. `npx iot-provisioner failures` lists them.', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: failureQueueName }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
    FailureQueueAgeAlarm: alarm('failure-queue-age', `The failure queue's oldest message is over ${FAILURE_AGE_THRESHOLD_SECONDS / 3600} h old: nobody has looked at it or redriven it.`, {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: failureQueueName }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: FAILURE_AGE_THRESHOLD_SECONDS,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
    // The retirement queue's dead-letter queue is the failure queue itself (resources/storage.cjs), which the two
    // alarms above watch, alongside JITR's failures. SQS has no metric for a message moved to a dead-letter queue
    // (its NumberOfMessagesSent does not count them), and the retirement queue's ApproximateAgeOfOldestMessage
    // leaves out a message received three times or more
    // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html):
    // so the retirement's own redrive alarm counts the failed retirement attempts that lead to the redrive.
    RetirementRedriveAlarm: alarm('retirement-redrive', `Retirements keep failing (${RETIREMENT_FAILURES}+ failed attempts in 15 min); after 5 receives SQS moves them to the failure queue and the rotated-out certificates stay ACTIVE.`, {
      Namespace: names.metricsNamespace,
      MetricName: 'Retirements',
      Dimensions: ownDimensions({ outcome: 'failed' }),
      Statistic: 'Sum',
      Period: 900,
      EvaluationPeriods: 1,
      Threshold: RETIREMENT_FAILURES,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),

    // ---- the hook's time ----
    HookDurationAlarm: alarm('hook-p99-duration', `The pre-provisioning hook's p99 duration is over ${HOOK_P99_THRESHOLD_MS} ms: near its ${HOOK.decisionDeadlineMs} ms decision deadline (AWS IoT waits ${HOOK.timeoutMs / 1000} s).`, {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: FUNCTIONS.preProvisioningHook } }],
      ExtendedStatistic: 'p99',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Threshold: HOOK_P99_THRESHOLD_MS,
      ComparisonOperator: 'GreaterThanThreshold',
    }),

    // ---- the HTTP API (osls' AWS::ApiGatewayV2::Api is `HttpApi`): HTTP APIs publish `5xx` by ApiId
    // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html) ----
    HttpApi5xxAlarm: alarm('http-api-5xx', 'The HTTP API answered 5xx (a function failed or timed out behind it).', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    }),

    // ---- claim abuse: many refusals under one claim certificate. A claim id is no dimension (one series per
    // claim, unbounded), so the hook writes it as metadata on its decision's EMF line and this Contributor
    // Insights rule counts the hook's denials per claim from the log group; the alarm watches the top
    // contributor (INSIGHT_RULE_METRIC … MaxContributorValue:
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-GraphReportData.html,
    // rule syntax: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-RuleSyntax.html).
    // A rise of refusals in all (devices not yet allow-listed) does not trip it; one claim refused again and again does.
    ClaimRefusalsRule: {
      Type: 'AWS::CloudWatch::InsightRule',
      // The function's log group (osls declares it) must exist before a rule names it.
      DependsOn: [`${pascal('preProvisioningHook')}LogGroup`],
      Properties: {
        RuleName: names.claimRefusalsRule,
        RuleState: 'ENABLED',
        RuleBody: JSON.stringify({
          Schema: { Name: 'CloudWatchLogRule', Version: 1 },
          LogGroupNames: [`/aws/lambda/${names.functions.preProvisioningHook}`],
          LogFormat: 'JSON',
          Contribution: {
            Keys: ['$.claimCertificateId'],
            Filters: [
              { Match: '$.flow', In: ['hook'] },
              { Match: '$.outcome', In: ['denied'] },
            ],
          },
          AggregateOn: 'Count',
        }),
      },
    },
    ClaimAbuseAlarm: alarm('claim-abuse', `One claim certificate was refused ${CLAIM_ABUSE_REFUSALS}+ times in 5 minutes: a leaked or replayed claim. The rule ${names.claimRefusalsRule} names it.`, {
      Metrics: [
        {
          Id: 'refusals',
          Label: 'refusals of the most refused claim',
          Expression: `INSIGHT_RULE_METRIC('${names.claimRefusalsRule}', 'MaxContributorValue')`,
          Period: 300,
          ReturnData: true,
        },
      ],
      EvaluationPeriods: 1,
      Threshold: CLAIM_ABUSE_REFUSALS,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  };
  Resources.ClaimAbuseAlarm.DependsOn = ['ClaimRefusalsRule'];

  // ---- every function's errors and throttles ----
  for (const [name, logicalId] of Object.entries(FUNCTIONS)) {
    for (const metric of ['Errors', 'Throttles']) {
      Resources[`${pascal(name)}${metric}Alarm`] = alarm(`${name}-${metric.toLowerCase()}`, `${names.functions[name]}: ${metric.toLowerCase()} in the last 5 minutes.`, {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId } }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  }

  if (alarmEmail) {
    Resources.AlarmsEmailSubscription = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: topic, Protocol: 'email', Endpoint: alarmEmail },
    };
  }

  Resources.Dashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: { DashboardName: names.dashboard, DashboardBody: dashboardBody({ settings, names, FUNCTIONS, failureQueueName }) },
  };

  return {
    Resources,
    Outputs: {
      AlarmsTopicArn: { Value: topic },
      DashboardUrl: { Value: { 'Fn::Sub': `https://\${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=\${AWS::Region}#dashboards:name=${names.dashboard}` } },
    },
  };
}

/**
 * The dashboard: decisions by flow, outcome and reason (SEARCH over the namespace, so that a new reason shows
 * without an edit), activations and claims, the hook's latency against its budget, the queues, and the
 * functions' errors. A JSON string with `${…}` placeholders for Fn::Sub (the region, the failure queue's name,
 * the HTTP API's id); the JSON itself has no other `${`.
 */
function dashboardBody({ settings, names, FUNCTIONS, failureQueueName }) {
  const ns = names.metricsNamespace;
  const stageFilter = `service="${settings.service}" stage="${settings.stage}"`;
  const search = (id, schema, metric, stat, period = 300) => ({
    expression: `SEARCH('{${ns},${schema}} ${stageFilter} MetricName="${metric}"', '${stat}', ${period})`,
    id,
  });
  const ownMetric = (metric, dims, options = {}) => [ns, metric, 'service', settings.service, 'stage', settings.stage, ...dims, options];
  const widget = (x, y, width, title, properties) => ({
    type: 'metric',
    x,
    y,
    width,
    height: 6,
    properties: { title, region: '${AWS::Region}', view: 'timeSeries', stacked: false, period: 300, ...properties },
  });
  const functionNames = Object.keys(FUNCTIONS).map((name) => names.functions[name]);
  const body = {
    widgets: [
      { type: 'text', x: 0, y: 0, width: 24, height: 2, properties: { markdown: `# ${settings.service} · ${settings.stage}\nDecisions and their reasons, the hook's time, the queues and the functions. Alarms go to the topic **${names.alarmsTopic}**.` } },
      widget(0, 2, 12, 'Decisions by flow, outcome and reason', { metrics: [[search('decisions', 'flow,outcome,reason,service,stage', 'Decisions', 'Sum')]], stat: 'Sum' }),
      widget(12, 2, 12, 'Activations, claims vended, vending actions', {
        metrics: [
          [search('activations', 'flow,service,stage', 'Activations', 'Sum')],
          [...ownMetric('ClaimsVended', [], { id: 'claims', label: 'claims vended', stat: 'Sum' })],
          [search('vend', 'action,outcome,service,stage', 'VendActions', 'Sum')],
        ],
      }),
      widget(0, 8, 12, `Hook decision latency (budget ${HOOK.timeoutMs} ms, deadline ${HOOK.decisionDeadlineMs} ms)`, {
        metrics: [
          [...ownMetric('HookDecisionLatency', [], { stat: 'p50', label: 'p50' })],
          [...ownMetric('HookDecisionLatency', [], { stat: 'p99', label: 'p99' })],
          ['AWS/Lambda', 'Duration', 'FunctionName', names.functions.preProvisioningHook, { stat: 'p99', label: 'Lambda duration p99' }],
        ],
        annotations: {
          horizontal: [
            { label: 'decision deadline', value: HOOK.decisionDeadlineMs },
            { label: 'AWS IoT gives up', value: HOOK.timeoutMs },
          ],
        },
        yAxis: { left: { min: 0, label: 'ms', showUnits: false } },
      }),
      widget(12, 8, 12, 'Lifecycle actions, retirements, rotations, expiry findings', {
        metrics: [
          [search('lifecycle', 'action,outcome,service,stage', 'LifecycleActions', 'Sum')],
          [search('retirements', 'outcome,service,stage', 'Retirements', 'Sum')],
          [search('rotations', 'outcome,reason,service,stage', 'Rotations', 'Sum')],
          [search('findings', 'reason,service,stage', 'ExpiryFindings', 'Sum', 86400)],
        ],
      }),
      widget(0, 14, 8, 'Failure queue', {
        metrics: [
          ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', '${FailureQueueName}', { stat: 'Maximum', label: 'messages' }],
          ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', '${FailureQueueName}', { stat: 'Maximum', label: 'oldest (s)', yAxis: 'right' }],
        ],
      }),
      widget(8, 14, 8, 'Retirement queue', {
        metrics: [
          ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', names.retirementQueue, { stat: 'Maximum', label: 'visible' }],
          ['AWS/SQS', 'ApproximateNumberOfMessagesDelayed', 'QueueName', names.retirementQueue, { stat: 'Maximum', label: 'in their grace period' }],
        ],
      }),
      widget(16, 14, 8, 'HTTP API', {
        metrics: [
          ['AWS/ApiGateway', '5xx', 'ApiId', '${HttpApi}', { stat: 'Sum' }],
          ['AWS/ApiGateway', '4xx', 'ApiId', '${HttpApi}', { stat: 'Sum' }],
          ['AWS/ApiGateway', 'Latency', 'ApiId', '${HttpApi}', { stat: 'p99', yAxis: 'right' }],
        ],
      }),
      widget(0, 20, 12, 'Errors and throttles by function', {
        metrics: functionNames.flatMap((fn) => [
          ['AWS/Lambda', 'Errors', 'FunctionName', fn, { stat: 'Sum' }],
          ['AWS/Lambda', 'Throttles', 'FunctionName', fn, { stat: 'Sum' }],
        ]),
      }),
      widget(12, 20, 12, 'Cold starts by function', { metrics: [[search('coldstarts', 'function_name,service,stage', 'ColdStart', 'Sum')]] }),
      {
        type: 'alarm',
        x: 0,
        y: 26,
        width: 24,
        height: 4,
        properties: { title: 'Alarms', alarms: ['${ClaimAbuseAlarmArn}', '${FailureQueueMessagesAlarmArn}', '${FailureQueueAgeAlarmArn}', '${RetirementRedriveAlarmArn}', '${HookDurationAlarmArn}', '${HttpApi5xxAlarmArn}'] },
      },
    ],
  };
  return {
    'Fn::Sub': [
      JSON.stringify(body),
      {
        FailureQueueName: failureQueueName,
        ClaimAbuseAlarmArn: { 'Fn::GetAtt': ['ClaimAbuseAlarm', 'Arn'] },
        FailureQueueMessagesAlarmArn: { 'Fn::GetAtt': ['FailureQueueMessagesAlarm', 'Arn'] },
        FailureQueueAgeAlarmArn: { 'Fn::GetAtt': ['FailureQueueAgeAlarm', 'Arn'] },
        RetirementRedriveAlarmArn: { 'Fn::GetAtt': ['RetirementRedriveAlarm', 'Arn'] },
        HookDurationAlarmArn: { 'Fn::GetAtt': ['HookDurationAlarm', 'Arn'] },
        HttpApi5xxAlarmArn: { 'Fn::GetAtt': ['HttpApi5xxAlarm', 'Arn'] },
      },
    ],
  };
}

module.exports = { observabilityResources, alarmEmailOf, HOOK, HOOK_P99_THRESHOLD_MS, CLAIM_ABUSE_REFUSALS };
