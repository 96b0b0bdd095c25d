import fc from 'fast-check';
import { show, wrongType, type FieldRule } from './fuzz-support';

/**
 * The envelope of API Gateway HTTP API events (payload 2.0) as field rules for `nearValid`, and the
 * contract every HTTP handler keeps whatever it is given.
 */

const anyString = fc.string({ maxLength: 30 });
const notRecordOfStrings = fc.oneof(fc.constantFrom('x', 1, true, [], ['a'], { a: 1 }, { a: null }, { a: ['b'] }, { a: { b: 'c' } }));

/** Rules for the envelope; the handler's own fields (body, path parameters, authorizer) come on top. */
export const envelopeRules: FieldRule[] = [
  { path: ['version'], required: true, invalid: fc.oneof(fc.constantFrom('1.0', '2', '2.0 ', 2, 2.0), wrongType) },
  { path: ['routeKey'], required: true, valid: anyString, invalid: wrongType },
  { path: ['rawPath'], required: true, valid: anyString, invalid: wrongType },
  {
    path: ['headers'],
    required: false,
    valid: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k.toLowerCase() !== 'idempotency-key'), anyString, { maxKeys: 4 }),
    invalid: notRecordOfStrings,
  },
  { path: ['queryStringParameters'], required: false, valid: fc.dictionary(anyString, anyString, { maxKeys: 3 }), invalid: notRecordOfStrings },
  { path: ['requestContext'], required: true, invalid: fc.oneof(fc.constantFrom('ctx', null, [], 1)) },
  { path: ['requestContext', 'requestId'], required: true, valid: anyString, invalid: wrongType },
  { path: ['requestContext', 'http'], required: true, invalid: fc.constantFrom('POST', null, [], 1) },
  { path: ['requestContext', 'http', 'path'], required: true, valid: anyString, invalid: wrongType },
  { path: ['requestContext', 'http', 'sourceIp'], required: false, valid: anyString, invalid: wrongType },
  { path: ['isBase64Encoded'], required: false, valid: fc.constant(false), invalid: fc.constantFrom('false', 0, 1, null, 'true') },
];

/** What an HTTP API answer must look like, whatever the request: a status, string headers, a JSON body. */
export function expectHttpAnswer(answer: unknown, context: { mutations: string[]; value: unknown }): { statusCode: number; body: Record<string, unknown> } {
  const where = `${show(context.value)} (${context.mutations.join('; ')})`;
  const a = answer as { statusCode?: unknown; headers?: unknown; body?: unknown };
  if (!a || typeof a !== 'object') throw new Error(`no answer for ${where}`);
  if (!Number.isInteger(a.statusCode) || (a.statusCode as number) < 200 || (a.statusCode as number) > 599) throw new Error(`status ${show(a.statusCode)} for ${where}`);
  if (!a.headers || typeof a.headers !== 'object' || Object.values(a.headers).some((v) => typeof v !== 'string')) throw new Error(`headers ${show(a.headers)} for ${where}`);
  if (typeof a.body !== 'string') throw new Error(`body ${show(a.body)} for ${where}`);
  let body: unknown;
  try {
    body = JSON.parse(a.body);
  } catch {
    throw new Error(`a body that is not JSON (${a.body.slice(0, 80)}) for ${where}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`body ${a.body.slice(0, 80)} for ${where}`);
  return { statusCode: a.statusCode as number, body: body as Record<string, unknown> };
}

/** A refusal of the caller's request: 4xx, a message, and a machine-readable reason — never key material. */
export function expectRefusal(answer: { statusCode: number; body: Record<string, unknown> }, context: { mutations: string[]; value: unknown }): void {
  const { statusCode, body } = answer;
  const summary = { mutations: context.mutations, statusCode: statusCode >= 400 && statusCode < 500, message: typeof body.message, reason: typeof body.reason };
  expect(summary).toEqual({ mutations: context.mutations, statusCode: true, message: 'string', reason: 'string' });
  expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY/);
}
