import { jsonResponse, type HttpApiResult } from '../http/response';
import { httpApiEventSchema } from '../schemas/http-api-event';
import type { IotDirectory, Log, ProvisioningLedger, Requester } from './ports';

/**
 * Trusted-user provisioning (seed 004, done right): an authenticated user asks for a temporary claim
 * certificate of the stack's template. The handler calls CreateProvisioningClaim itself — users get no
 * IoT permissions — records who asked, and returns the certificate, its key, the expiry and the endpoint.
 * The private key is returned once and never logged.
 */

export interface ClaimVendingDeps {
  iot: Pick<IotDirectory, 'createProvisioningClaim'>;
  /** The account's data endpoint, looked up once per container. */
  dataEndpoint: () => Promise<string>;
  ledger: Pick<ProvisioningLedger, 'recordClaim'>;
  templateName: string;
  now: () => Date;
  log: Log;
}

const isThrottling = (error: unknown) =>
  error instanceof Error && ['ThrottlingException', 'TooManyRequestsException', 'ProvisionedThroughputExceededException'].includes(error.name);

function requesterOf(claims: Record<string, unknown> | undefined): Requester | undefined {
  const sub = claims?.sub;
  if (typeof sub !== 'string' || !sub) return undefined;
  const username = claims?.username ?? claims?.['cognito:username'] ?? claims?.email;
  return { sub, ...(typeof username === 'string' ? { username } : {}) };
}

export async function vendProvisioningClaim(event: unknown, deps: ClaimVendingDeps): Promise<HttpApiResult> {
  const parsed = httpApiEventSchema.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    deps.log.warn('claim request refused: not an HTTP API event', { issues: issues.map((i) => i.path) });
    return jsonResponse(400, { message: 'Bad request', reason: 'event-invalid', issues });
  }
  // The JWT authorizer has verified the token; without its subject there is nobody to record: refuse.
  const requester = requesterOf(parsed.data.requestContext.authorizer?.jwt?.claims);
  if (!requester) return jsonResponse(401, { message: 'Unauthorized', reason: 'no-verified-user' });

  let body: unknown = {};
  if (parsed.data.body) {
    const text = parsed.data.isBase64Encoded ? Buffer.from(parsed.data.body, 'base64').toString('utf8') : parsed.data.body;
    try {
      body = JSON.parse(text);
    } catch {
      return jsonResponse(400, { message: 'The body must be JSON.', reason: 'body-invalid', issues: [{ path: '', message: 'not JSON' }] });
    }
  }
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length > 0) {
    return jsonResponse(400, { message: 'The request takes no parameters.', reason: 'request-invalid', issues: [{ path: '', message: 'expected {}' }] });
  }

  try {
    const [claim, endpoint] = await Promise.all([deps.iot.createProvisioningClaim(deps.templateName), deps.dataEndpoint()]);
    // Recorded before it is handed out: a claim nobody can trace back to a user is not handed out.
    await deps.ledger.recordClaim({
      claimCertificateId: claim.certificateId,
      templateName: deps.templateName,
      requestedBy: requester,
      issuedAt: deps.now(),
      expiresAt: claim.expiration,
    });
    deps.log.info('provisioning claim vended', { requestedBy: requester.sub, claimCertificateId: claim.certificateId });
    return jsonResponse(201, {
      certificateId: claim.certificateId,
      certificatePem: claim.certificatePem,
      privateKey: claim.privateKey,
      expiration: claim.expiration.toISOString(),
      templateName: deps.templateName,
      endpoint,
      provisionTopic: `$aws/provisioning-templates/${deps.templateName}/provision/json`,
    });
  } catch (error) {
    if (isThrottling(error)) {
      deps.log.warn('claim request throttled', { requestedBy: requester.sub });
      return jsonResponse(429, { message: 'Too many requests; retry later.' }, { 'retry-after': '1' });
    }
    deps.log.error('claim request failed', { requestedBy: requester.sub, error: (error as Error).name });
    return jsonResponse(500, { message: 'Internal error' });
  }
}
