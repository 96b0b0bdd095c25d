'use strict';
/**
 * The operators' sign-in: the Cognito user pool whose JWTs the HTTP API's `operators` authorizer verifies
 * (serverless.yml provider.httpApi.authorizers). Routes name the authorizer in their function's events.
 */

function operatorResources({ names }) {
  return {
    Resources: {
      UserPool: {
        Type: 'AWS::Cognito::UserPool',
        Properties: {
          UserPoolName: names.userPool,
          // Operators are invited, never self-registered.
          AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
          UsernameAttributes: ['email'],
          AutoVerifiedAttributes: ['email'],
          MfaConfiguration: 'OFF',
          Policies: {
            PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
          },
          AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
        },
      },
      UserPoolClient: {
        Type: 'AWS::Cognito::UserPoolClient',
        Properties: {
          UserPoolId: { Ref: 'UserPool' },
          ClientName: names.userPoolClient,
          GenerateSecret: false,
          ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
          PreventUserExistenceErrors: 'ENABLED',
        },
      },
    },
    Outputs: {
      UserPoolId: { Value: { Ref: 'UserPool' } },
      UserPoolClientId: { Value: { Ref: 'UserPoolClient' } },
    },
  };
}

module.exports = { operatorResources };
