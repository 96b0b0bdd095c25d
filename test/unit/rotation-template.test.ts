import { loadExpirySweepConfig } from '../../shared/config';
import { loadStack } from '../../lib/stack';
import stackModule = require('../../resources/stack.cjs');

/**
 * The rotation job template (resources/rotation.cjs) from the stage parameters, and the sweep's
 * auto-rotation setting. The template's properties against the resource specification:
 * test/unit/template-spec.test.ts.
 */

describe('the rotation job template', () => {
  it('is in the stack with the default rollout (design §2: 100/min), abort and timeout', () => {
    const stack = loadStack({ stage: 'dev' });
    const template = stack.resources.Resources.RotationJobTemplate!;
    expect(template.Type).toBe('AWS::IoT::JobTemplate');
    expect(template.Properties).toEqual({
      JobTemplateId: 'iot-provisioner-dev-rotation',
      Description: expect.any(String),
      Document: '{"operation":"rotate-certificate","keyAlgorithm":"EC-P256"}',
      JobExecutionsRolloutConfig: { MaximumPerMinute: 100, ExponentialRolloutRate: { BaseRatePerMinute: 10, IncrementFactor: 2, RateIncreaseCriteria: { NumberOfNotifiedThings: 50 } } },
      AbortConfig: { CriteriaList: [{ Action: 'CANCEL', FailureType: 'ALL', ThresholdPercentage: 10, MinNumberOfExecutedThings: 20 }] },
      TimeoutConfig: { InProgressTimeoutInMinutes: 60 },
    });
    expect(stack.resources.Outputs.RotationJobTemplateArn).toEqual({ Value: { 'Fn::GetAtt': ['RotationJobTemplate', 'Arn'] } });
  });

  it('follows the stage parameters', () => {
    const stack = loadStack({ stage: 'dev', params: { rotationMaximumPerMinute: '600', rotationBaseRatePerMinute: '20', rotationIncrementFactor: '1.5', rotationInProgressTimeoutMinutes: '120', rotationAbortThresholdPercentage: '2.5' } });
    expect(stack.resources.Resources.RotationJobTemplate!.Properties).toMatchObject({
      JobExecutionsRolloutConfig: { MaximumPerMinute: 600, ExponentialRolloutRate: { BaseRatePerMinute: 20, IncrementFactor: 1.5 } },
      AbortConfig: { CriteriaList: [{ ThresholdPercentage: 2.5 }] },
      TimeoutConfig: { InProgressTimeoutInMinutes: 120 },
    });
  });

  it.each([
    [{ rotationMaximumPerMinute: '1001' }, /rotationMaximumPerMinute: "1001" is not a whole number from 1 to 1000/],
    [{ rotationMaximumPerMinute: '0' }, /rotationMaximumPerMinute/],
    [{ rotationBaseRatePerMinute: '200' }, /rotationBaseRatePerMinute \(200\) is above rotationMaximumPerMinute \(100\)/],
    [{ rotationIncrementFactor: '1' }, /rotationIncrementFactor: "1" is not a number from 1.1 to 5/],
    [{ rotationInProgressTimeoutMinutes: '10081' }, /rotationInProgressTimeoutMinutes/],
    [{ rotationAbortThresholdPercentage: '101' }, /rotationAbortThresholdPercentage/],
    [{ rotationAbortMinExecutedThings: 'many' }, /rotationAbortMinExecutedThings/],
  ])('refuses %p before any deployment', (params, message) => {
    expect(() => stackModule.rotationSettings(params)).toThrow(message);
  });
});

describe('the sweep’s auto-rotation setting', () => {
  const base = { DEVICE_REGISTRY_TABLE: 'devices', DEVICE_TIMELINE_TABLE: 'timeline', FINDINGS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:findings' };
  const arn = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/iot-provisioner-dev-rotation';
  it('is off unless AUTO_ROTATION is true, and then needs the template', () => {
    expect(loadExpirySweepConfig({ ...base }).autoRotation).toBeUndefined();
    expect(loadExpirySweepConfig({ ...base, AUTO_ROTATION: 'false', ROTATION_JOB_TEMPLATE_ARN: arn }).autoRotation).toBeUndefined();
    expect(loadExpirySweepConfig({ ...base, AUTO_ROTATION: 'true', ROTATION_JOB_TEMPLATE_ARN: arn }).autoRotation).toEqual({ jobTemplateArn: arn });
    expect(() => loadExpirySweepConfig({ ...base, AUTO_ROTATION: 'true' })).toThrow(/ROTATION_JOB_TEMPLATE_ARN is not set/);
    expect(() => loadExpirySweepConfig({ ...base, AUTO_ROTATION: 'yes' })).toThrow(/AUTO_ROTATION/);
  });
});
