import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles only (esbuild-plugins.cjs aliases it;
 * tsx, jest and the local IoT Core load the real chain). Lambda hands a function its role's credentials in
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, so the default chain always ends at its first
 * link, `fromEnv`; the other links (SSO, ini files, process, web identity, ECS/IMDS) and the nested STS, SSO
 * and sign-in clients they carry are ~100 KB of each bundle that never runs there. `serverless invoke local`
 * sets the same variables from the caller's profile. https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);

// The rest of the replaced module's interface, unchanged.
export const credentialsWillNeedRefresh = (credentials: { expiration?: Date }): boolean => credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials: { expiration?: Date }): boolean =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
