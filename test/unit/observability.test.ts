import { loadStack } from '../../lib/stack';
import namesModule = require('../../resources/names.cjs');
import observability = require('../../resources/observability.cjs');

/**
 * The stack's alarms, topic, claim-refusals rule and dashboard (resources/observability.cjs): which alarms exist,
 * what they watch, where they notify, and that the e-mail subscription follows the alarmEmail parameter.
 */

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };
const resourcesOf = (params: Record<string, string> = {}) => loadStack({ stage: 'test', params }).resources.Resources as Record<string, Resource>;
const alarmsOf = (resources: Record<string, Resource>) => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
const TOPIC = { Ref: 'AlarmsTopic' };

describe('the alarms', () => {
  const resources = resourcesOf();
  const alarms = Object.fromEntries(alarmsOf(resources));

  it('watch every function’s Errors and Throttles, one alarm each', () => {
    for (const [name, logicalId] of Object.entries(namesModule.FUNCTIONS)) {
      for (const metric of ['Errors', 'Throttles']) {
        const alarm = alarms[`${name[0]!.toUpperCase()}${name.slice(1)}${metric}Alarm`];
        expect(alarm?.Properties).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId } }], Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
      }
    }
  });

  it('watch the failure queue (any message, the oldest one’s age) and the retirements that lead to its redrive', () => {
    const queue = [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ProvisioningFailureQueue', 'QueueName'] } }];
    expect(alarms.FailureQueueMessagesAlarm!.Properties).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: queue, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarms.FailureQueueAgeAlarm!.Properties).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: queue });
    expect(alarms.RetirementRedriveAlarm!.Properties).toMatchObject({
      Namespace: 'IotProvisioner',
      MetricName: 'Retirements',
      // Every dimension the EMF line has: CloudWatch matches them exactly.
      Dimensions: [
        { Name: 'service', Value: 'iot-provisioner' },
        { Name: 'stage', Value: 'test' },
        { Name: 'outcome', Value: 'failed' },
      ],
    });
  });

  it('watch the hook’s p99 duration below its decision deadline, which is serverless.yml’s', () => {
    const hook = loadStack({ stage: 'test' }).functions.find((f) => f.name === 'preProvisioningHook')!;
    expect(hook.timeoutSeconds * 1000).toBe(observability.HOOK.timeoutMs);
    expect(Number(hook.environment.HOOK_DEADLINE_MS)).toBe(observability.HOOK.decisionDeadlineMs);
    expect(alarms.HookDurationAlarm!.Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      ExtendedStatistic: 'p99',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'PreProvisioningHookLambdaFunction' } }],
      Threshold: observability.HOOK_P99_THRESHOLD_MS,
    });
    expect(observability.HOOK_P99_THRESHOLD_MS).toBeLessThan(observability.HOOK.decisionDeadlineMs);
  });

  it('watch the HTTP API’s 5xx (metric `5xx` by ApiId)', () => {
    expect(alarms.HttpApi5xxAlarm!.Properties).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }] });
  });

  it('watch claim abuse: the most refused claim certificate of the hook’s denials, with no claim-id dimension', () => {
    const rule = resources.ClaimRefusalsRule!;
    expect(rule.Type).toBe('AWS::CloudWatch::InsightRule');
    expect(rule.DependsOn).toEqual(['PreProvisioningHookLogGroup']);
    expect(JSON.parse(rule.Properties.RuleBody)).toEqual({
      Schema: { Name: 'CloudWatchLogRule', Version: 1 },
      LogGroupNames: ['/aws/lambda/iot-provisioner-test-preProvisioningHook'],
      LogFormat: 'JSON',
      Contribution: { Keys: ['$.claimCertificateId'], Filters: [{ Match: '$.flow', In: ['hook'] }, { Match: '$.outcome', In: ['denied'] }] },
      AggregateOn: 'Count',
    });
    expect(alarms.ClaimAbuseAlarm!.Properties.Metrics).toEqual([
      expect.objectContaining({ Expression: "INSIGHT_RULE_METRIC('iot-provisioner-test-claim-refusals', 'MaxContributorValue')", ReturnData: true }),
    ]);
    expect(alarms.ClaimAbuseAlarm!.Properties.Threshold).toBe(observability.CLAIM_ABUSE_REFUSALS);
  });

  it('all notify the alarms topic, on alarm and back to OK', () => {
    expect(alarmsOf(resources)).toHaveLength(Object.keys(namesModule.FUNCTIONS).length * 2 + 6);
    for (const [, alarm] of alarmsOf(resources)) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC]);
    }
    expect(resources.AlarmsTopic!.Properties.TopicName).toBe('iot-provisioner-test-alarms');
  });

  it('need no cloudwatch:PutMetricData in any role: EMF metrics come from the log groups', () => {
    expect(JSON.stringify(resources)).not.toMatch(/PutMetricData/);
  });
});

describe('the alarm e-mail', () => {
  it('is subscribed only when the alarmEmail parameter names one', () => {
    expect(resourcesOf()).not.toHaveProperty('AlarmsEmailSubscription');
    expect(resourcesOf({ alarmEmail: '' })).not.toHaveProperty('AlarmsEmailSubscription');
    expect(resourcesOf({ alarmEmail: 'ops@example.com' }).AlarmsEmailSubscription).toEqual({
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: TOPIC, Protocol: 'email', Endpoint: 'ops@example.com' },
    });
  });

  it('refuses an address that is not one, naming the parameter', () => {
    expect(() => resourcesOf({ alarmEmail: 'not an address' })).toThrow(/alarmEmail: "not an address" is not an e-mail address/);
  });
});

describe('the dashboard', () => {
  it('is one JSON body for Fn::Sub, with the decisions, the hook latency, the queues and the errors', () => {
    const { DashboardBody, DashboardName } = resourcesOf().Dashboard!.Properties;
    expect(DashboardName).toBe('iot-provisioner-test');
    const [text, variables] = DashboardBody['Fn::Sub'] as [string, Record<string, unknown>];
    // Every placeholder is a variable of the Sub or a pseudo parameter / resource of the template.
    const placeholders = [...new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]!))];
    for (const name of placeholders) expect(['AWS::Region', 'HttpApi', ...Object.keys(variables)]).toContain(name);
    const body = JSON.parse(text) as { widgets: Array<{ properties: { title?: string; metrics?: unknown[] } }> };
    const titles = body.widgets.map((w) => w.properties.title).filter(Boolean);
    expect(titles).toEqual(expect.arrayContaining(['Decisions by flow, outcome and reason', 'Failure queue', 'Retirement queue', 'Errors and throttles by function']));
    expect(text).toContain(`SEARCH('{IotProvisioner,flow,outcome,reason,service,stage} service=\\"iot-provisioner\\" stage=\\"test\\" MetricName=\\"Decisions\\"', 'Sum', 300)`);
    expect(text).toContain('HookDecisionLatency');
  });
});
