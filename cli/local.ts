import { readLocalEndpoints } from './target';
import { CliError } from './target';

/** `local token <username>`: a JWT from the local IoT Core's stand-in user pool, for the HTTP API. */
export async function localCommand(
  action: string | undefined,
  subject: string | undefined,
  options: { endpointsFile?: string; ttlSeconds?: number },
  out: (line: string) => void,
): Promise<number> {
  if (action !== 'token') throw new CliError('usage: local token <username> [--ttl seconds]');
  if (!subject) throw new CliError('usage: local token <username> [--ttl seconds]');
  const endpoints = await readLocalEndpoints(options.endpointsFile);
  const response = await fetch(`${endpoints.iot}/_local/token`, {
    method: 'POST',
    body: JSON.stringify({ username: subject, ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}) }),
  });
  const body = (await response.json()) as { token?: string; message?: string };
  if (!response.ok || !body.token) throw new CliError(`the local IoT Core refused: ${body.message ?? response.status}`);
  out(body.token);
  return 0;
}
