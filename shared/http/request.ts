import type { HttpApiEvent } from '../schemas/http-api-event';

/**
 * The JSON document an HTTP API request carries (decoded when API Gateway base64-encoded it): `absent`
 * without a body, `not-json` when it does not parse.
 */
export function jsonBodyOf(event: Pick<HttpApiEvent, 'body' | 'isBase64Encoded'>): { kind: 'absent' } | { kind: 'json'; value: unknown } | { kind: 'not-json' } {
  if (!event.body) return { kind: 'absent' };
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'not-json' };
  }
}
