'use strict';
/**
 * AWS IoT Device Defender audit, as code (issue 11 §3), only when the `deviceDefenderAudit` stage parameter
 * is 'true': the audit configuration is one per account and region (AWS::IoT::AccountAuditConfiguration),
 * so a second stack in the account would take it over. Off by default.
 *
 * The four certificate checks the lifecycle relies on, a daily scheduled audit of them, and its
 * notifications on the findings topic (resources/findings.cjs). Property names and types are the
 * CloudFormation resource specification's (test/unit/template-spec.test.ts checks them against
 * @aws-cdk/aws-service-spec). The thresholds reuse the sweep's stage parameters.
 */

/** The checks, by the names ScheduledAudit's TargetCheckNames uses, and their AuditCheckConfigurations keys. */
const AUDIT_CHECKS = {
  DEVICE_CERTIFICATE_EXPIRING_CHECK: 'DeviceCertificateExpiringCheck',
  DEVICE_CERTIFICATE_AGE_CHECK: 'DeviceCertificateAgeCheck',
  CA_CERTIFICATE_EXPIRING_CHECK: 'CaCertificateExpiringCheck',
  REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK: 'RevokedDeviceCertificateStillActiveCheck',
};

function auditResources({ settings, names, IOT_SERVICE_TRUST }) {
  if (!settings.deviceDefenderAudit) return { Resources: {}, Outputs: {} };
  const { expiryWarningDays, certificateMaxAgeDays } = settings;
  return {
    Resources: {
      // What the audit reads (certificates, policies, CAs, …): AWS's managed policy for Device Defender audits.
      DeviceDefenderAuditRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
          ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTDeviceDefenderAudit' }],
        },
      },
      // What the audit's notifications need: Publish on the findings topic, nothing else.
      DeviceDefenderNotificationRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
          Policies: [
            {
              PolicyName: 'audit-notifications',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [{ Sid: 'Findings', Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'FindingsTopic' } }],
              },
            },
          ],
        },
      },
      AccountAuditConfiguration: {
        Type: 'AWS::IoT::AccountAuditConfiguration',
        Properties: {
          AccountId: { Ref: 'AWS::AccountId' },
          RoleArn: { 'Fn::GetAtt': ['DeviceDefenderAuditRole', 'Arn'] },
          AuditCheckConfigurations: {
            DeviceCertificateExpiringCheck: {
              Enabled: true,
              ...(expiryWarningDays > 0 ? { Configuration: { CertExpirationThresholdInDays: String(expiryWarningDays) } } : {}),
            },
            DeviceCertificateAgeCheck: {
              Enabled: true,
              ...(certificateMaxAgeDays > 0 ? { Configuration: { CertAgeThresholdInDays: String(certificateMaxAgeDays) } } : {}),
            },
            CaCertificateExpiringCheck: { Enabled: true },
            RevokedDeviceCertificateStillActiveCheck: { Enabled: true },
          },
          AuditNotificationTargetConfigurations: {
            Sns: { Enabled: true, TargetArn: { Ref: 'FindingsTopic' }, RoleArn: { 'Fn::GetAtt': ['DeviceDefenderNotificationRole', 'Arn'] } },
          },
        },
      },
      CertificateScheduledAudit: {
        Type: 'AWS::IoT::ScheduledAudit',
        // A scheduled audit may only name checks the account configuration has enabled.
        DependsOn: ['AccountAuditConfiguration'],
        Properties: {
          ScheduledAuditName: names.certificateAudit,
          Frequency: 'DAILY',
          TargetCheckNames: Object.keys(AUDIT_CHECKS),
        },
      },
    },
    Outputs: {},
  };
}

module.exports = { auditResources, AUDIT_CHECKS };
