'use strict';
/**
 * certificateResource's deployment (Custom::DeviceCertificate, seed 002): its trigger (other stacks'
 * custom resources, through the exported service token), its role, and the bucket it writes keys to.
 * serverless.yml reads `events` from here; resources/stack.cjs adds `resources(stack)` to the template.
 * Nothing is required here: the shared builders come in `stack` (resources/stack.cjs).
 */

/** No osls event: CloudFormation invokes the function for the custom resources of other stacks. */
const events = [];

function resources({ names, IOT_ARN, FUNCTIONS, functionRole, listAttachedPolicies, privateBucket, tlsOnlyBucketPolicy }) {
  return {
    Resources: {
      // Devices' certificates and private keys under <thing>/. Not versioned, so a Delete removes a key for good.
      CertificateBucket: privateBucket({
        // The custom resource's Delete marks (shared/aws/certificate-store.ts): needed for six hours at most.
        LifecycleConfiguration: { Rules: [{ Id: 'ExpireDeleteMarks', Status: 'Enabled', Prefix: '.deleted/', ExpirationInDays: 7 }] },
      }),
      // Private keys travel over TLS only (the device-data bucket holds no secrets and has no such policy).
      CertificateBucketPolicy: tlsOnlyBucketPolicy('CertificateBucket'),
      CertificateResourceRole: functionRole('certificateResource', [
        // These two actions have no resource type: they can only be granted on '*'.
        { Sid: 'IssueCertificates', Effect: 'Allow', Action: ['iot:CreateKeysAndCertificate', 'iot:DescribeEndpoint'], Resource: '*' },
        {
          Sid: 'Certificates',
          Effect: 'Allow',
          Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:DeleteCertificate', 'iot:ListPrincipalThings'],
          Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
        },
        // Only '*' works for it (resources/iam.cjs says why).
        listAttachedPolicies(),
        // A Delete detaches what stacks attached (ThingPrincipalAttachment, PolicyPrincipalAttachment). The
        // certificate is DetachThingPrincipal's only resource type (a thing ARN here would match nothing).
        { Sid: 'DetachThings', Effect: 'Allow', Action: 'iot:DetachThingPrincipal', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        // Which policy cannot be scoped (see bindingStatements, resources/iam.cjs): the certificate is DetachPolicy's resource.
        { Sid: 'DetachPolicies', Effect: 'Allow', Action: 'iot:DetachPolicy', Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` } },
        // GetObject is what HeadObject needs: objects are removed only by the certificate that wrote them.
        { Sid: 'KeyObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: { 'Fn::Sub': '${CertificateBucket.Arn}/*' } },
        { Sid: 'ListKeyObjects', Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': ['CertificateBucket', 'Arn'] } },
      ]),
    },
    Outputs: {
      CertificateBucketName: { Value: { Ref: 'CertificateBucket' } },
      // Other stacks' Custom::DeviceCertificate resources: ServiceToken: !ImportValue <service>-<stage>-CertificateResourceServiceToken
      CertificateResourceServiceToken: {
        Value: { 'Fn::GetAtt': [FUNCTIONS.certificateResource, 'Arn'] },
        Export: { Name: names.certificateResourceExport },
      },
    },
  };
}

module.exports = { events, resources };
