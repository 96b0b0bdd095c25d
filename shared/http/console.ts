import type { Actor } from '../lifecycle/ports';
import { httpApiEventSchema, type HttpApiEvent } from '../schemas/http-api-event';
import { issuesOf } from '../schemas/issues';
import { callerOf, refuseUnlessInGroup, type Caller } from './caller';
import { failureAnswer, refusal, type HttpApiResult } from './response';

/**
 * What every route of the operator console does first (functions/console-*): parse the HTTP API event, name
 * the signed-in caller from the claims the JWT authorizer verified, and refuse anyone outside `operators`
 * (403 `group-not-allowed`) — in the API, from the token, whatever the page shows.
 */

export const BAD_REQUEST = 'Bad request';

export interface ConsoleRequest {
  event: HttpApiEvent;
  caller: Caller;
  /** The route as API Gateway matched it: `GET /devices/{deviceId}`. */
  route: string;
  query: Record<string, string>;
}

export function operatorRequest(raw: unknown): ConsoleRequest | HttpApiResult {
  const parsed = httpApiEventSchema.safeParse(raw);
  if (!parsed.success) return refusal(400, BAD_REQUEST, 'event-invalid', issuesOf(parsed.error));
  const event = parsed.data;
  // The JWT authorizer ran at API Gateway: a request without a verified subject never got here on AWS.
  const caller = callerOf(event.requestContext.authorizer?.jwt?.claims);
  if (!caller) return refusal(401, 'Not signed in', 'no-caller');
  const refused = refuseUnlessInGroup(caller, ['operators']);
  if (refused) return refused;
  return { event, caller, route: event.routeKey, query: event.queryStringParameters ?? {} };
}

/** The timeline's actor for a console user: their email (else username), and their stable subject. */
export function userActor(caller: Caller): Actor {
  const name = caller.email ?? caller.username;
  return { kind: 'user', id: name ? `${name} (${caller.sub})` : caller.sub };
}

export type ConsoleRoutes<Deps> = Record<string, (request: ConsoleRequest, deps: Deps) => Promise<HttpApiResult>>;

/**
 * A console function's entry: the operators-only request, then the route of its routeKey; an unexpected
 * failure answers 429 or 500 (failureAnswer), logged with `failure` and the route, never with internals.
 */
export async function routeOperatorRequest<Deps extends { log: { error(message: string, extra?: Record<string, unknown>): void } }>(
  event: unknown,
  routes: ConsoleRoutes<Deps>,
  deps: Deps,
  failure: string,
): Promise<HttpApiResult> {
  const request = operatorRequest(event);
  if ('statusCode' in request) return request;
  const route = routes[request.route];
  if (!route) return refusal(404, 'Not found', 'route-unknown');
  try {
    return await route(request, deps);
  } catch (error) {
    const answer = failureAnswer(error);
    if (answer.statusCode === 500) deps.log.error(failure, { route: request.route, error: (error as Error).name });
    return answer;
  }
}
