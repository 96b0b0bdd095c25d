'use strict';
/**
 * Certificate rotation (issue 14; docs/rotation-design.md §1 "S0 start", §2): the job template every rotation
 * job is created from (shared/rotation/start.ts: CreateJob with `jobTemplateArn`). The template carries the
 * job document and the rollout, abort and timeout configurations, so every wave rolls out the same way
 * whoever starts it (the CLI or the expiry sweep).
 *
 * AWS::IoT::JobTemplate's properties are CreateJobTemplate's (the resource specification,
 * @aws-cdk/aws-service-spec; test/unit/template-spec.test.ts checks them). Limits, from the API reference
 * (API_JobExecutionsRolloutConfig, API_ExponentialRolloutRate, API_AbortCriteria, API_TimeoutConfig):
 * maximumPerMinute and baseRatePerMinute 1-1000, incrementFactor 1.1-5, thresholdPercentage 0-100,
 * minNumberOfExecutedThings ≥ 1, inProgressTimeoutInMinutes 1-10080.
 */

/** The stage parameters of the rotation rollout, with their defaults (serverless.yml `params.default`). */
const ROTATION_DEFAULTS = {
  // Design §2: r = 1.67 devices/s from the default DescribeCertificate quota (3 calls per rotated device) with
  // 3 devices/s kept for provisioning.
  rotationMaximumPerMinute: '100',
  // A low start: the first wave of notifications shows a broken agent or backend before most devices have it.
  rotationBaseRatePerMinute: '10',
  rotationIncrementFactor: '2',
  // The rate goes up by the factor after each this many notified things.
  rotationRateIncreaseNotifiedThings: '50',
  // Abort (CANCEL) once this % of at least this many executed things failed, were rejected or timed out (ALL).
  rotationAbortThresholdPercentage: '10',
  rotationAbortMinExecutedThings: '20',
  // A device has this long from IN_PROGRESS to SUCCEEDED; then TIMED_OUT, and the backend rolls back.
  rotationInProgressTimeoutMinutes: '60',
};

function wholeNumber(name, value, min, max) {
  const text = String(value ?? '').trim();
  if (!/^\d{1,6}$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`${name}: "${text}" is not a whole number from ${min} to ${max}`);
  return Number(text);
}

function decimal(name, value, min, max) {
  const text = String(value ?? '').trim();
  if (!/^\d{1,3}(\.\d{1,3})?$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`${name}: "${text}" is not a number from ${min} to ${max}`);
  return Number(text);
}

/**
 * The rotation settings from the stage parameters (each '' or absent = its default); a value outside AWS's
 * limits fails the build of the stack, not the deployment.
 * @param {Partial<Record<keyof typeof ROTATION_DEFAULTS, string>>} params
 */
function rotationSettings(params = {}) {
  const value = (name) => {
    const given = String(params[name] ?? '').trim();
    return given === '' ? ROTATION_DEFAULTS[name] : given;
  };
  const maximumPerMinute = wholeNumber('rotationMaximumPerMinute', value('rotationMaximumPerMinute'), 1, 1000);
  const baseRatePerMinute = wholeNumber('rotationBaseRatePerMinute', value('rotationBaseRatePerMinute'), 1, 1000);
  if (baseRatePerMinute > maximumPerMinute) throw new Error(`rotationBaseRatePerMinute (${baseRatePerMinute}) is above rotationMaximumPerMinute (${maximumPerMinute})`);
  return {
    rotation: {
      maximumPerMinute,
      baseRatePerMinute,
      incrementFactor: decimal('rotationIncrementFactor', value('rotationIncrementFactor'), 1.1, 5),
      rateIncreaseNotifiedThings: wholeNumber('rotationRateIncreaseNotifiedThings', value('rotationRateIncreaseNotifiedThings'), 1, 999999),
      abortThresholdPercentage: decimal('rotationAbortThresholdPercentage', value('rotationAbortThresholdPercentage'), 0, 100),
      abortMinExecutedThings: wholeNumber('rotationAbortMinExecutedThings', value('rotationAbortMinExecutedThings'), 1, 999999),
      inProgressTimeoutMinutes: wholeNumber('rotationInProgressTimeoutMinutes', value('rotationInProgressTimeoutMinutes'), 1, 10080),
    },
  };
}

/** The job document of every rotation (docs/rotation-protocol.md §2; shared/rotation/model.ts). */
const ROTATION_JOB_DOCUMENT = { operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' };

function rotationResources({ settings, names }) {
  const r = settings.rotation ?? rotationSettings().rotation;
  return {
    Resources: {
      RotationJobTemplate: {
        Type: 'AWS::IoT::JobTemplate',
        Properties: {
          JobTemplateId: names.rotationJobTemplate,
          Description: 'Certificate rotation (issue 14): the device makes a new key and sends a CSR (docs/rotation-protocol.md)',
          Document: JSON.stringify(ROTATION_JOB_DOCUMENT),
          JobExecutionsRolloutConfig: {
            MaximumPerMinute: r.maximumPerMinute,
            ExponentialRolloutRate: {
              BaseRatePerMinute: r.baseRatePerMinute,
              IncrementFactor: r.incrementFactor,
              RateIncreaseCriteria: { NumberOfNotifiedThings: r.rateIncreaseNotifiedThings },
            },
          },
          AbortConfig: {
            CriteriaList: [{ Action: 'CANCEL', FailureType: 'ALL', ThresholdPercentage: r.abortThresholdPercentage, MinNumberOfExecutedThings: r.abortMinExecutedThings }],
          },
          TimeoutConfig: { InProgressTimeoutInMinutes: r.inProgressTimeoutMinutes },
        },
      },
    },
    Outputs: {
      RotationJobTemplateArn: { Value: { 'Fn::GetAtt': ['RotationJobTemplate', 'Arn'] } },
    },
  };
}

module.exports = { rotationResources, rotationSettings, ROTATION_DEFAULTS, ROTATION_JOB_DOCUMENT };
