import { claimsAsPassed } from '../../local/http/jwt';
import { loadStack } from '../../lib/stack';
import operators = require('../../resources/operators.cjs');

/** The console's sign-in in the stack (resources/operators.cjs) and the claims as the JWT authorizer passes them. */

describe('the console client’s callback URLs (consoleUrl)', () => {
  it('are the local console, plus the ConsoleDistribution’s domain once the stack has it', () => {
    expect(operators.consoleUrls('', false)).toEqual(['http://localhost:4577/']);
    expect(operators.consoleUrls('', true)).toEqual(['http://localhost:4577/', { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' }]);
  });

  it('are the consoleUrl parameter alone when it is set (comma-separated)', () => {
    expect(operators.consoleUrls('https://console.example.com/, https://backup.example.com/', true)).toEqual(['https://console.example.com/', 'https://backup.example.com/']);
  });

  it.each([
    ['plain HTTP elsewhere than localhost', 'http://console.example.com/', /must be https/],
    ['127.0.0.1 (Cognito takes http://localhost only)', 'http://127.0.0.1:4577/', /must be https/],
    ['a fragment', 'https://console.example.com/#x', /fragment/],
    ['not a URL', 'console', /not a URL/],
  ])('refuses %s', (_, url, message) => {
    expect(() => operators.consoleUrls(url, false)).toThrow(message);
  });
});

describe('the user pool in the template', () => {
  it('requires TOTP by default, and only TOTP', () => {
    const pool = loadStack({ stage: 'test' }).resources.Resources.UserPool!.Properties;
    expect(pool).toMatchObject({ MfaConfiguration: 'ON', EnabledMfas: ['SOFTWARE_TOKEN_MFA'] });
  });

  it('makes TOTP optional with consoleMfa=optional, and refuses anything else', () => {
    expect(loadStack({ stage: 'test', params: { consoleMfa: 'optional' } }).resources.Resources.UserPool!.Properties).toMatchObject({ MfaConfiguration: 'OPTIONAL' });
    expect(() => loadStack({ stage: 'test', params: { consoleMfa: 'off' } })).toThrow(/consoleMfa: "off" is neither required nor optional/);
  });

  it('has the two groups, the hosted sign-in domain and the console’s public code + PKCE client, with the outputs', () => {
    const { Resources, Outputs } = loadStack({ stage: 'test' }).resources;
    expect(Object.values(Resources).filter((r) => r.Type === 'AWS::Cognito::UserPoolGroup').map((r) => r.Properties.GroupName)).toEqual(['technicians', 'operators']);
    expect(Resources.UserPoolDomain!.Properties).toEqual({ UserPoolId: { Ref: 'UserPool' }, Domain: { 'Fn::Sub': 'iot-provisioner-test-${AWS::AccountId}' }, ManagedLoginVersion: 1 });
    expect(Resources.ConsoleClient!.Properties).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      SupportedIdentityProviders: ['COGNITO'],
      // The template has the console's distribution (resources/console.cjs): its domain too.
      CallbackURLs: ['http://localhost:4577/', { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' }],
      LogoutURLs: ['http://localhost:4577/', { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' }],
    });
    expect(Resources.UserPoolClient!.Properties).toMatchObject({ ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] });
    expect(Outputs).toMatchObject({ ConsoleClientId: { Value: { Ref: 'ConsoleClient' } }, ConsoleSignInDomain: expect.any(Object) });
  });

  it('takes the sign-in domain prefix from consoleSignInDomainPrefix, and refuses one Cognito would', () => {
    expect(loadStack({ stage: 'test', params: { consoleSignInDomainPrefix: 'acme-devices' } }).resources.Resources.UserPoolDomain!.Properties.Domain).toBe('acme-devices');
    expect(() => loadStack({ stage: 'test', params: { consoleSignInDomainPrefix: 'my-aws-login' } })).toThrow(/without aws, amazon or cognito/);
    expect(() => loadStack({ stage: 'test', params: { consoleSignInDomainPrefix: 'Upper' } })).toThrow(/consoleSignInDomainPrefix/);
  });
});

describe('claims as the HTTP API’s JWT authorizer passes them (claimsAsPassed)', () => {
  it('makes every value a string: arrays bracketed and space-separated, numbers and booleans as text', () => {
    expect(claimsAsPassed({ sub: 'u', 'cognito:groups': ['operators', 'technicians'], exp: 1795366800, email_verified: true })).toEqual({
      sub: 'u',
      'cognito:groups': '[operators technicians]',
      exp: '1795366800',
      email_verified: 'true',
    });
  });
});
