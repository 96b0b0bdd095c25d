import { jsonBodyOf } from '../../shared/http/request';
import { failureAnswer, jsonResponse, refusal, type HttpApiResult } from '../../shared/http/response';
import { revokeDeviceCertificate, vendCertificate, type RevokeOutcome, type VendDeps, type VendOutcome } from '../../shared/provisioning/vend-certificate';
import { httpApiEventSchema } from '../../shared/schemas/http-api-event';
import { issuesOf, type Issue } from '../../shared/schemas/issues';
import { idempotencyKeySchema, vendBodySchema } from '../../shared/schemas/vend-request';

/**
 * The vending API's HTTP surface (HTTP API, IAM authorization): `POST /devices/{deviceId}/certificate` with
 * an optional `{ "csr": "<PEM>", "rotate": true }` and an `Idempotency-Key` header, and
 * `DELETE /devices/{deviceId}/certificate`. The request is parsed here; the workflow's outcome maps to one
 * status here (`answerOf`); raw errors never reach the answer.
 */

const BAD_REQUEST = 'Bad request';

/** The one mapping from a vending outcome to its HTTP answer. */
export function answerOf(outcome: VendOutcome | RevokeOutcome, deviceId: string): HttpApiResult {
  switch (outcome.kind) {
    case 'vended':
      return jsonResponse(201, outcome.answer, outcome.replayed ? { 'idempotent-replayed': 'true' } : {});
    case 'revoked':
      return jsonResponse(200, { deviceId, certificateId: outcome.certificateId, status: 'REVOKED' });
    case 'invalid':
      return refusal(400, BAD_REQUEST, outcome.reason, 'issues' in outcome ? outcome.issues : undefined);
    case 'refused':
      return refusal(403, 'Not allowed', outcome.reason);
    case 'not-found':
      return refusal(404, 'Not found', outcome.reason);
    case 'conflict':
      return refusal(409, 'Conflict', outcome.reason);
  }
}

/** The POST's body and header, checked: what to vend, or what is wrong with the request. */
function vendInput(body: ReturnType<typeof jsonBodyOf>, headers: Record<string, string> | undefined):
  | { csrPem?: string; rotate: boolean; idempotencyKey?: string }
  | HttpApiResult {
  let value: unknown = {};
  if (body.kind !== 'absent') {
    if (body.kind === 'not-json' || !body.value || typeof body.value !== 'object' || Array.isArray(body.value)) {
      return refusal(400, BAD_REQUEST, 'body-invalid', [{ path: '', message: 'the body must be a JSON object' }]);
    }
    value = body.value;
  }
  const parsed = vendBodySchema.safeParse(value);
  const idempotencyKey = headers?.['idempotency-key'];
  const key = idempotencyKey === undefined ? undefined : idempotencyKeySchema.safeParse(idempotencyKey);
  const issues: Issue[] = [
    ...(parsed.success ? [] : issuesOf(parsed.error, { unknownKeysApart: true })),
    ...(key && !key.success ? issuesOf(key.error).map((issue) => ({ ...issue, path: 'Idempotency-Key' })) : []),
  ];
  if (issues.length || !parsed.success) return refusal(400, BAD_REQUEST, 'request-invalid', issues);
  return {
    ...(parsed.data.csr !== undefined ? { csrPem: parsed.data.csr } : {}),
    rotate: parsed.data.rotate === true,
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

export async function handleVendingRequest(event: unknown, deps: VendDeps): Promise<HttpApiResult> {
  const parsed = httpApiEventSchema.safeParse(event);
  if (!parsed.success) return refusal(400, BAD_REQUEST, 'event-invalid', issuesOf(parsed.error));
  const { requestContext, pathParameters, headers } = parsed.data;
  // IAM authorization happened at API Gateway; a request without a caller never got here on AWS.
  const caller = requestContext.authorizer?.iam?.userArn;
  if (!caller) return refusal(403, 'Not allowed', 'no-iam-caller');
  const deviceId = pathParameters?.deviceId ?? '';
  deps.log.debug('vending request', { caller, method: requestContext.http.method, deviceId });

  try {
    if (requestContext.http.method === 'DELETE') return answerOf(await revokeDeviceCertificate(deviceId, deps), deviceId);
    if (requestContext.http.method !== 'POST') return refusal(405, 'Method not allowed', 'method-not-allowed');
    const input = vendInput(jsonBodyOf(parsed.data), headers);
    if ('statusCode' in input) return input;
    return answerOf(await vendCertificate({ deviceId, ...input, caller }, deps), deviceId);
  } catch (error) {
    const answer = failureAnswer(error);
    if (answer.statusCode === 500) deps.log.error('vending request failed', { deviceId, error: (error as Error).name });
    return answer;
  }
}
