'use strict';
/**
 * Device credentials (seed 003): the role alias devices trade their certificate for temporary credentials
 * with (the device policy of resources/policies.cjs allows it), the role behind it, and an example of what
 * those credentials can do — write under the device's own prefix of the device-data bucket.
 */
const { privateBucket, tlsOnlyBucketPolicy } = require('./storage.cjs');

function credentialsResources({ names }) {
  return {
    Resources: {
      DeviceDataBucket: privateBucket(),
      DeviceDataBucketPolicy: tlsOnlyBucketPolicy('DeviceDataBucket'),
      DeviceCredentialsRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'credentials.iot.amazonaws.com' },
                Action: 'sts:AssumeRole',
                Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'own-prefix-only',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  {
                    Effect: 'Allow',
                    Action: ['s3:PutObject', 's3:GetObject'],
                    // credentials-iot:ThingName is the thing named in x-amzn-iot-thingname (aws-iot-reference §6).
                    Resource: { 'Fn::Sub': '${DeviceDataBucket.Arn}/things/${!credentials-iot:ThingName}/*' },
                  },
                ],
              },
            },
          ],
        },
      },
      DeviceRoleAlias: {
        Type: 'AWS::IoT::RoleAlias',
        Properties: {
          RoleAlias: names.roleAlias,
          RoleArn: { 'Fn::GetAtt': ['DeviceCredentialsRole', 'Arn'] },
          CredentialDurationSeconds: 3600,
        },
      },
    },
    Outputs: {
      DeviceRoleAlias: { Value: names.roleAlias },
      DeviceDataBucketName: { Value: { Ref: 'DeviceDataBucket' } },
    },
  };
}

module.exports = { credentialsResources };
