import { randomInt } from 'node:crypto';

/**
 * Who signed a request to the local IoT Core, as far as the access key id tells. Every local access key id
 * names its account, so that each local service (the control plane, DynamoDB, SQS, S3, Lambda's API) knows the
 * account of a call without a lookup:
 * - a 12-digit access key id is that account's operator (the CLI, the AWS CLI, the tests; secret `local`);
 * - `ASIA<12-digit account><4 characters>` (20 characters, AWS's length for temporary keys) is a temporary key
 *   the local IoT Core issued: a function's role in its execution environment, or the credential provider's
 *   role alias for a device. Whoever issues one records its principal and secret.
 */

/** The secret key of every operator access key id (a 12-digit account id). */
export const OPERATOR_SECRET_KEY = 'local';

const OPERATOR = /^\d{12}$/;
const TEMPORARY = /^ASIA(\d{12})[A-Z0-9]{4}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The access key id of a SigV4 `Authorization` header (`Credential=<id>/…`), if there is one. */
export function accessKeyIdOf(authorization: string | string[] | undefined): string | undefined {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  return /Credential=([^/,\s]+)\//.exec(header ?? '')?.[1];
}

/** The account an access key id names, or undefined when it is not a local one. */
export function accountOfAccessKey(accessKeyId: string | undefined): string | undefined {
  if (accessKeyId === undefined) return undefined;
  if (OPERATOR.test(accessKeyId)) return accessKeyId;
  return TEMPORARY.exec(accessKeyId)?.[1];
}

/** The account of a signed request: its access key's, else `fallback` (unsigned or foreign keys). */
export function accountOfRequest(authorization: string | string[] | undefined, fallback: string): string {
  return accountOfAccessKey(accessKeyIdOf(authorization)) ?? fallback;
}

/** True for an operator key (12 digits), whose calls the local IoT Core does not check against a role. */
export function isOperatorKey(accessKeyId: string): boolean {
  return OPERATOR.test(accessKeyId);
}

/** A new temporary access key id of the account (`ASIA` + account + 4 random characters). */
export function temporaryAccessKeyId(accountId: string): string {
  if (!OPERATOR.test(accountId)) throw new Error(`not an account id: ${accountId}`);
  let suffix = '';
  for (let i = 0; i < 4; i += 1) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return `ASIA${accountId}${suffix}`;
}
