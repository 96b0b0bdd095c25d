import { jsonResponse, type HttpApiResult } from '../http/response';
import { httpApiEventSchema } from '../schemas/http-api-event';
import { revokeDeviceCertificate, vendCertificate, type VendDeps } from './vend-certificate';

/**
 * The vending API's HTTP surface (HTTP API, IAM authorization): `POST /devices/{deviceId}/certificate` with
 * an optional `{ "csr": "<PEM>", "rotate": true }` and an `Idempotency-Key` header, and
 * `DELETE /devices/{deviceId}/certificate`. Every outcome maps to one status here; raw errors never reach
 * the answer.
 */

const KEY = /^[A-Za-z0-9_.:-]{8,128}$/;
const isThrottling = (error: unknown) =>
  error instanceof Error && ['ThrottlingException', 'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'LimitExceededException'].includes(error.name);

const MESSAGES: Record<number, string> = { 400: 'Bad request', 403: 'Not allowed', 404: 'Not found', 409: 'Conflict' };

export async function handleVendingRequest(event: unknown, deps: VendDeps): Promise<HttpApiResult> {
  const parsed = httpApiEventSchema.safeParse(event);
  if (!parsed.success) {
    return jsonResponse(400, { message: 'Bad request', reason: 'event-invalid', issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  }
  const { requestContext, pathParameters, headers, body, isBase64Encoded } = parsed.data;
  // IAM authorization happened at API Gateway; a request without a caller never got here on AWS.
  const caller = requestContext.authorizer?.iam?.userArn;
  if (!caller) return jsonResponse(403, { message: 'Not allowed', reason: 'no-iam-caller' });
  const deviceId = pathParameters?.deviceId ?? '';
  deps.log.debug('vending request', { caller, method: requestContext.http.method, deviceId });

  try {
    if (requestContext.http.method === 'DELETE') {
      const revoked = await revokeDeviceCertificate(deviceId, deps);
      return revoked.status === 200
        ? jsonResponse(200, { deviceId, certificateId: revoked.certificateId, status: 'REVOKED' })
        : jsonResponse(revoked.status, { message: MESSAGES[revoked.status], reason: revoked.reason });
    }
    if (requestContext.http.method !== 'POST') return jsonResponse(405, { message: 'Method not allowed', reason: 'method-not-allowed' });

    let input: Record<string, unknown> = {};
    if (body) {
      try {
        const parsedBody = JSON.parse(isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body) as unknown;
        if (!parsedBody || typeof parsedBody !== 'object' || Array.isArray(parsedBody)) throw new Error('not an object');
        input = parsedBody as Record<string, unknown>;
      } catch {
        return jsonResponse(400, { message: 'Bad request', reason: 'body-invalid', issues: [{ path: '', message: 'the body must be a JSON object' }] });
      }
    }
    const issues = [
      ...Object.keys(input).filter((k) => k !== 'csr' && k !== 'rotate').map((k) => ({ path: k, message: 'unknown field' })),
      ...(input.csr !== undefined && typeof input.csr !== 'string' ? [{ path: 'csr', message: 'must be a PEM string' }] : []),
      ...(input.rotate !== undefined && typeof input.rotate !== 'boolean' ? [{ path: 'rotate', message: 'must be true or false' }] : []),
    ];
    const idempotencyKey = headers?.['idempotency-key'];
    if (idempotencyKey !== undefined && !KEY.test(idempotencyKey)) issues.push({ path: 'Idempotency-Key', message: 'must be 8-128 of [A-Za-z0-9_.:-]' });
    if (issues.length) return jsonResponse(400, { message: 'Bad request', reason: 'request-invalid', issues });

    const outcome = await vendCertificate(
      {
        deviceId,
        ...(typeof input.csr === 'string' ? { csrPem: input.csr } : {}),
        rotate: input.rotate === true,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      },
      deps,
    );
    if (outcome.status === 201) return jsonResponse(201, outcome.answer, outcome.replayed ? { 'idempotent-replayed': 'true' } : {});
    return jsonResponse(outcome.status, { message: MESSAGES[outcome.status], reason: outcome.reason, ...('issues' in outcome ? { issues: outcome.issues } : {}) });
  } catch (error) {
    if (isThrottling(error)) return jsonResponse(429, { message: 'Too many requests; retry later.' }, { 'retry-after': '1' });
    deps.log.error('vending request failed', { deviceId, error: (error as Error).name });
    return jsonResponse(500, { message: 'Internal error' });
  }
}
