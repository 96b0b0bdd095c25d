import { randomBytes } from 'node:crypto';
import { readLocalEndpoints } from './target';
import { CliError } from './target';

/**
 * The local IoT Core's stand-in user pool (`npm run emulator`):
 * - `local token <username> [--group g]...`: an ID token for the HTTP API;
 * - `local user add <email> --group g [--password P]`: a user who signs in at the hosted sign-in.
 */
export async function localCommand(
  action: string | undefined,
  subject: string | undefined,
  options: { endpointsFile?: string; ttlSeconds?: number; groups?: string[]; password?: string },
  out: (line: string) => void,
): Promise<number> {
  if (action === 'token') {
    if (!subject) throw new CliError('usage: local token <username> [--group technicians|operators]... [--ttl seconds]');
    const body = await post(options.endpointsFile, '/token', {
      username: subject,
      ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
      ...(options.groups ? { groups: options.groups } : {}),
    });
    if (typeof body.token !== 'string') throw new CliError('the local IoT Core answered without a token');
    out(body.token);
    return 0;
  }
  if (action === 'user add') {
    if (!subject) throw new CliError('usage: local user add <email> --group operators|technicians [--password P]');
    if (!options.groups?.length) throw new CliError('local user add: --group operators|technicians is required (repeat it for both)');
    // A made-up password when none is given: 18 random bytes, printed once (the emulator keeps only its hash).
    const password = options.password ?? `${randomBytes(18).toString('base64url')}`;
    const body = await post(options.endpointsFile, '/users', { email: subject, password, groups: options.groups });
    const user = body.user as { username: string; groups: string[] };
    const endpoints = await readLocalEndpoints(options.endpointsFile);
    out(`added ${user.username} (groups: ${user.groups.join(', ')})`);
    if (options.password === undefined) out(`password: ${password}`);
    if (endpoints.userPool) out(`sign-in: ${endpoints.userPool}/oauth2/authorize (the console sends you there; no MFA locally)`);
    return 0;
  }
  throw new CliError('usage: local token <username> [--group g]... | local user add <email> --group g [--password P]');
}

async function post(endpointsFile: string | undefined, path: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
  const endpoints = await readLocalEndpoints(endpointsFile);
  const response = await fetch(`${endpoints.iot}/_local${path}`, { method: 'POST', body: JSON.stringify(payload) });
  const body = (await response.json()) as Record<string, unknown> & { message?: string };
  if (!response.ok) throw new CliError(`the local IoT Core refused: ${body.message ?? response.status}`);
  return body;
}
