import * as z from 'zod/mini';
import '../schemas/zod';

/**
 * Opaque page tokens (`nextToken`): base64url of a small JSON document naming what the page continues from
 * (the DynamoDB key the next Query starts after). A token comes back from the caller, so it is checked like
 * any input: one that does not decode, or holds anything but what this route issued, is a 400, never a
 * DynamoDB error (a forged ExclusiveStartKey must never reach the table).
 */

export function encodePageToken(route: string, value: Record<string, string>): string {
  return Buffer.from(JSON.stringify({ r: route, ...value }), 'utf8').toString('base64url');
}

/** The token's value for `route`, checked by `schema`; undefined when it is not one this route issued. */
export function decodePageToken<T extends z.ZodMiniType>(route: string, token: string, schema: T): z.infer<T> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { r?: unknown }).r !== route) return undefined;
  const { r: _route, ...value } = parsed as Record<string, unknown>;
  const checked = schema.safeParse(value);
  return checked.success ? (checked.data as z.infer<T>) : undefined;
}
