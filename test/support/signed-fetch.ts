import { signedFetch as cliSignedFetch } from '../../lib/sigv4';

/** A SigV4-signed fetch (service execute-api) for IAM-authorized routes — the CLI's signer, answering a Response. */
export async function signedFetch(
  url: string,
  init: { method: string; body?: string; headers?: Record<string, string> },
  credentials: { accessKeyId: string; secretAccessKey: string } = { accessKeyId: '123456789012', secretAccessKey: 'local' },
  region = 'us-east-1',
): Promise<Response> {
  const answer = await cliSignedFetch(new URL(url), { ...init, region, credentials: async () => credentials });
  return new Response(answer.text, { status: answer.status, headers: answer.headers });
}
