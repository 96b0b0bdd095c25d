'use strict';
/**
 * Where the stack tells operators about certificates (issue 11 §3): the findings topic. The expiry sweep
 * (functions/expiry-sweep) publishes one finding per device to it, and the Device Defender audit
 * (resources/audit.cjs, when on) sends its notifications to it. Subscribe an e-mail address, a queue or the
 * rotation workflow to it.
 */

const FINDINGS = { topicArn: { Ref: 'FindingsTopic' } };

function findingsResources({ names }) {
  return {
    Resources: {
      FindingsTopic: {
        Type: 'AWS::SNS::Topic',
        Properties: {
          TopicName: names.findingsTopic,
          // The AWS-managed key: its key policy lets the account's principals (the sweep's role, the audit's
          // notification role) publish through SNS without a key grant of their own.
          KmsMasterKeyId: 'alias/aws/sns',
        },
      },
    },
    Outputs: {
      FindingsTopicArn: { Value: FINDINGS.topicArn },
    },
  };
}

module.exports = { findingsResources, FINDINGS };
