'use strict';
/**
 * The console's sign-in: the Cognito user pool whose JWTs the HTTP API's `operators` authorizer verifies
 * (serverless.yml provider.httpApi.authorizers), its two groups, its hosted sign-in domain, and the app
 * clients. Routes name the authorizer in their function's events; each route checks the caller's group
 * itself (shared/http/caller.ts), from the verified token's `cognito:groups`.
 */

/** The user pool's groups: technicians vend claims; operators run the fleet (shared/http/caller.ts CONSOLE_GROUPS). */
const GROUPS = {
  technicians: 'Vend provisioning claims for devices they stand next to.',
  operators: 'Run the fleet: devices, decisions, failures; suspend, retire and reprovision devices.',
};

/** Where the console is served locally until the console's own local front says otherwise (issue 12). */
const LOCAL_CONSOLE_URL = 'http://localhost:4577/';

/**
 * The consoleMfa stage parameter: `required` (default) makes TOTP mandatory for every user of the pool;
 * `optional` lets users sign in without it (technicians' shared phones).
 *
 * With `optional`, the API cannot tell from a token whether its user passed MFA: Cognito's `amr`/`acr` claims
 * are "a capability that is rolling out gradually and might not yet be available to your user pool", and
 * requesting a level needs the Essentials or Plus plan
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html,
 * https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-step-up-authentication.html),
 * so the API does not gate operator actions on them. Operators' MFA is then an administrator's duty: add a
 * user to `operators` only once `aws cognito-idp admin-get-user` lists SOFTWARE_TOKEN_MFA in their
 * UserMFASettingList (a user with TOTP enabled is always asked for it), as the README says.
 */
function mfaSettings(consoleMfa) {
  const mode = String(consoleMfa ?? '').trim().toLowerCase() || 'required';
  if (mode !== 'required' && mode !== 'optional') throw new Error(`consoleMfa: "${consoleMfa}" is neither required nor optional`);
  return { MfaConfiguration: mode === 'required' ? 'ON' : 'OPTIONAL', EnabledMfas: ['SOFTWARE_TOKEN_MFA'] };
}

/**
 * The console client's callback (and sign-out) URLs, one rule:
 * - the consoleUrl stage parameter when it is set (comma-separated URLs, e.g. a custom domain);
 * - else the local console (http://localhost:4577/) and, when the stack has the `ConsoleDistribution`
 *   CloudFront distribution, `https://<its domain>/`.
 * "Amazon Cognito requires HTTPS over HTTP except for http://localhost", and no fragment
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html).
 */
function consoleUrls(consoleUrl, hasConsoleDistribution) {
  const given = String(consoleUrl ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  for (const url of given) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`consoleUrl: "${url}" is not a URL`);
    }
    const local = parsed.protocol === 'http:' && parsed.hostname === 'localhost';
    if (parsed.protocol !== 'https:' && !local) throw new Error(`consoleUrl: "${url}" must be https:// (or http://localhost)`);
    if (url.includes('#')) throw new Error(`consoleUrl: "${url}" may not have a fragment`);
  }
  if (given.length) return given;
  return [LOCAL_CONSOLE_URL, ...(hasConsoleDistribution ? [{ 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' }] : [])];
}

/**
 * The hosted sign-in domain's prefix: the consoleSignInDomainPrefix stage parameter, else
 * `<service>-<stage>-<account id>` (prefixes are unique per Region across AWS). Cognito allows lowercase
 * letters, digits and hyphens, and no "aws", "amazon" or "cognito" in a prefix.
 */
function domainPrefix(given, { service, stage }) {
  const prefix = String(given ?? '').trim();
  if (!prefix) return { 'Fn::Sub': `${`${service}-${stage}`.toLowerCase()}-\${AWS::AccountId}` };
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix) || /aws|amazon|cognito/.test(prefix)) {
    throw new Error(`consoleSignInDomainPrefix: "${prefix}" must be 1-63 of [a-z0-9-], without aws, amazon or cognito`);
  }
  return prefix;
}

/**
 * @param {{ names: Record<string, string>, settings: import('./stack.d.cts').StackSettings }} stack
 * @param {{ hasConsoleDistribution: boolean }} template what the rest of the template has
 */
function operatorResources({ names, settings }, { hasConsoleDistribution }) {
  const urls = consoleUrls(settings.consoleUrl, hasConsoleDistribution);
  const domain = domainPrefix(settings.consoleSignInDomainPrefix, settings);
  return {
    Resources: {
      UserPool: {
        Type: 'AWS::Cognito::UserPool',
        Properties: {
          UserPoolName: names.userPool,
          // Users are invited, never self-registered.
          AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
          UsernameAttributes: ['email'],
          AutoVerifiedAttributes: ['email'],
          ...mfaSettings(settings.consoleMfa),
          Policies: {
            PasswordPolicy: { MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
          },
          AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
        },
      },
      ...Object.fromEntries(
        Object.entries(GROUPS).map(([group, description], index) => [
          `${group[0].toUpperCase()}${group.slice(1)}Group`,
          { Type: 'AWS::Cognito::UserPoolGroup', Properties: { UserPoolId: { Ref: 'UserPool' }, GroupName: group, Description: description, Precedence: index + 1 } },
        ]),
      ),
      // The CLI's client: sign-in with SRP from the operator's own tools (no hosted pages).
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
      // The hosted sign-in pages and OAuth 2.0 endpoints (/oauth2/authorize, /oauth2/token, /login, /logout) at
      // https://<prefix>.auth.<region>.amazoncognito.com. Version 1 is the classic hosted UI, which every feature
      // plan has (version 2, "managed login", needs Essentials or Plus and a ManagedLoginBranding per client:
      // https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-managed-login.html).
      UserPoolDomain: {
        Type: 'AWS::Cognito::UserPoolDomain',
        Properties: { UserPoolId: { Ref: 'UserPool' }, Domain: domain, ManagedLoginVersion: 1 },
      },
      // The console's client: a public client (a browser keeps no secret) of the authorization code grant.
      // Cognito supports PKCE for it and the page always sends code_challenge_method=S256, the only method
      // Cognito supports (https://docs.aws.amazon.com/cognito/latest/developerguide/using-pkce-in-authorization-code.html).
      ConsoleClient: {
        Type: 'AWS::Cognito::UserPoolClient',
        Properties: {
          UserPoolId: { Ref: 'UserPool' },
          ClientName: names.consoleClient,
          GenerateSecret: false,
          AllowedOAuthFlowsUserPoolClient: true,
          AllowedOAuthFlows: ['code'],
          AllowedOAuthScopes: ['openid', 'email', 'profile'],
          SupportedIdentityProviders: ['COGNITO'],
          CallbackURLs: urls,
          LogoutURLs: urls,
          // No direct password sign-in from the page: only the hosted pages, and refreshing their tokens.
          ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
          PreventUserExistenceErrors: 'ENABLED',
          EnableTokenRevocation: true,
          // A technician's shift, not a week: the ID and access tokens live 1 hour, the refresh token 12 hours.
          IdTokenValidity: 60,
          AccessTokenValidity: 60,
          RefreshTokenValidity: 720,
          TokenValidityUnits: { IdToken: 'minutes', AccessToken: 'minutes', RefreshToken: 'minutes' },
        },
      },
    },
    Outputs: {
      UserPoolId: { Value: { Ref: 'UserPool' } },
      UserPoolClientId: { Value: { Ref: 'UserPoolClient' } },
      ConsoleClientId: { Value: { Ref: 'ConsoleClient' } },
      // The hosted sign-in's host name: <prefix>.auth.<region>.amazoncognito.com.
      ConsoleSignInDomain: { Value: { 'Fn::Join': ['', [domain, { 'Fn::Sub': '.auth.${AWS::Region}.amazoncognito.com' }]] } },
    },
  };
}

module.exports = { operatorResources, consoleUrls, mfaSettings, domainPrefix, GROUPS, LOCAL_CONSOLE_URL };
