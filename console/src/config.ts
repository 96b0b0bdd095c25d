/**
 * The console's settings, written next to the page at deploy time (`config.json`): one build serves every
 * stage and account. Locally, the local HTTP front writes the emulator's.
 */
export interface ConsoleConfig {
  /** The HTTP API's base URL, without a trailing slash. */
  apiUrl: string;
  signIn: {
    /** The user pool's managed-login (hosted UI) domain, e.g. https://iot-provisioner-prod-123456789012.auth.eu-west-1.amazoncognito.com */
    domain: string;
    /** The console's app client (public, code + PKCE). */
    clientId: string;
    /** The ID tokens' issuer: https://cognito-idp.<region>.amazonaws.com/<userPoolId>. */
    issuer: string;
  };
  stage: string;
  /** The server CA devices pin (AmazonRootCA1.pem on AWS, the local root CA locally), for the claim bundle. */
  serverCa: { fileName: string; pem: string };
  /** Where devices connect, when not the claim's data endpoint on 8883 (the local IoT Core). */
  deviceEndpoint?: { host: string; port: number };
  /** Shown on the sign-in screen, e.g. that MFA is skipped locally. */
  notice?: string;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as Partial<ConsoleConfig>;
  if (!config.apiUrl || !config.signIn?.domain || !config.signIn.clientId || !config.signIn.issuer || !config.serverCa?.pem) {
    throw new Error('config.json lacks apiUrl, signIn.domain, signIn.clientId, signIn.issuer or serverCa');
  }
  return { ...config, apiUrl: config.apiUrl.replace(/\/+$/, '') } as ConsoleConfig;
}
