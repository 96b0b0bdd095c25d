import { isThrottling } from '../../shared/aws/errors';
import { callerOf, refuseUnlessInGroup, type ConsoleGroup } from '../../shared/http/caller';
import { jsonBodyOf } from '../../shared/http/request';
import { failureAnswer, jsonResponse, refusal, type HttpApiResult } from '../../shared/http/response';
import type { Requester } from '../../shared/provisioning/ledger-ports';
import { vendProvisioningClaim, type ClaimOutcome, type ClaimVendingDeps } from '../../shared/provisioning/vend-claim';
import { httpApiEventSchema } from '../../shared/schemas/http-api-event';
import { issuesOf } from '../../shared/schemas/issues';
import { claimBodySchema } from '../../shared/schemas/vend-request';

/**
 * `POST /provisioning-claims` behind the Cognito JWT authorizer: the request is parsed here, the user is
 * the verified token's subject, who must be a technician or an operator, and the outcome maps to HTTP here
 * (`answerOf`).
 */

/** Who may vend a claim: the user pool's groups (resources/operators.cjs). */
export const CLAIM_GROUPS: readonly ConsoleGroup[] = ['technicians', 'operators'];

export const answerOf = (outcome: ClaimOutcome): HttpApiResult => jsonResponse(201, outcome.answer);

export async function handleClaimRequest(event: unknown, deps: ClaimVendingDeps): Promise<HttpApiResult> {
  const parsed = httpApiEventSchema.safeParse(event);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error);
    deps.log.warn('claim request refused: not an HTTP API event', { issues: issues.map((i) => i.path) });
    return refusal(400, 'Bad request', 'event-invalid', issues);
  }
  // The JWT authorizer has verified the token; without its subject there is nobody to record: refuse.
  const caller = callerOf(parsed.data.requestContext.authorizer?.jwt?.claims);
  if (!caller) return refusal(401, 'Unauthorized', 'no-verified-user');
  // The group, from the verified token, before anything else is read: a signed-in user of no group gets nothing.
  const notAllowed = refuseUnlessInGroup(caller, CLAIM_GROUPS);
  if (notAllowed) {
    deps.log.warn('claim request refused: not in a group that may vend claims', { requestedBy: caller.sub, groups: caller.groups });
    return notAllowed;
  }
  const username = caller.username ?? caller.email;
  const requester: Requester = { sub: caller.sub, ...(username ? { username } : {}) };

  const body = jsonBodyOf(parsed.data);
  if (body.kind === 'not-json') return refusal(400, 'The body must be JSON.', 'body-invalid', [{ path: '', message: 'not JSON' }]);
  const checked = claimBodySchema.safeParse(body.kind === 'json' ? body.value : {});
  if (!checked.success) return refusal(400, 'The request takes at most a deviceId.', 'request-invalid', issuesOf(checked.error));

  try {
    return answerOf(await vendProvisioningClaim(requester, deps, checked.data.deviceId ? { deviceId: checked.data.deviceId } : {}));
  } catch (error) {
    if (isThrottling(error)) deps.log.warn('claim request throttled', { requestedBy: requester.sub });
    else deps.log.error('claim request failed', { requestedBy: requester.sub, error: (error as Error).name });
    return failureAnswer(error);
  }
}
