import type { FailureQueueDepth, FailureMessage } from '../../shared/aws/failure-queue';
import { summarizeFailure } from '../../shared/diagnosis/failure-messages';
import type { RedriveOutcome } from '../../shared/failures/redrive';
import { BAD_REQUEST, userActor, type ConsoleRequest, routeOperatorRequest, type ConsoleRoutes } from '../../shared/http/console';
import { jsonBodyOf } from '../../shared/http/request';
import { jsonResponse, refusal, type HttpApiResult } from '../../shared/http/response';
import type { Log } from '../../shared/log';
import { redriveBodySchema } from '../../shared/schemas/console-request';
import { issuesOf } from '../../shared/schemas/issues';

/**
 * The console's failure-queue routes (operators only): `GET /failure-queue` — the counts, the oldest age and
 * the messages, read without consuming them — and `POST /failure-queue/redrive` (shared/failures/redrive.ts).
 */

export interface ConsoleQueueDeps {
  depth(): Promise<FailureQueueDepth>;
  /** The messages a few receives with VisibilityTimeout 0 see (a sample of a large queue). */
  peek(): Promise<FailureMessage[]>;
  redrive(max: number): Promise<RedriveOutcome>;
  now: () => Date;
  log: Pick<Log, 'error' | 'info'>;
}

const DEFAULT_REDRIVE = 10;

async function failureQueue(request: ConsoleRequest, deps: ConsoleQueueDeps): Promise<HttpApiResult> {
  if (Object.keys(request.query).length) {
    return refusal(400, BAD_REQUEST, 'query-invalid', Object.keys(request.query).map((path) => ({ path, message: 'unknown field' })));
  }
  const [depth, messages] = await Promise.all([deps.depth(), deps.peek()]);
  const now = deps.now().getTime();
  const sent = messages.flatMap((m) => (m.sentAt ? [Date.parse(m.sentAt)] : []));
  return jsonResponse(200, {
    count: depth.visible + depth.inFlight + depth.delayed,
    depth,
    // Of the messages seen: SQS keeps no "oldest message" attribute; CloudWatch's ApproximateAgeOfOldestMessage is the exact figure.
    oldestAgeSeconds: sent.length ? Math.max(0, Math.round((now - Math.min(...sent)) / 1000)) : null,
    messages: messages
      .map((m) => ({ ...m, ...summarizeFailure(m.body) }))
      .sort((a, b) => (a.sentAt ?? '').localeCompare(b.sentAt ?? '')),
    sampled: true,
  });
}

async function redrive(request: ConsoleRequest, deps: ConsoleQueueDeps): Promise<HttpApiResult> {
  const body = jsonBodyOf(request.event);
  let value: unknown = {};
  if (body.kind !== 'absent') {
    if (body.kind === 'not-json' || !body.value || typeof body.value !== 'object' || Array.isArray(body.value)) {
      return refusal(400, BAD_REQUEST, 'body-invalid', [{ path: '', message: 'the body must be a JSON object: {"max": 10}' }]);
    }
    value = body.value;
  }
  const parsed = redriveBodySchema.safeParse(value);
  if (!parsed.success) return refusal(400, BAD_REQUEST, 'request-invalid', issuesOf(parsed.error, { unknownKeysApart: true }));
  const outcome = await deps.redrive(parsed.data.max ?? DEFAULT_REDRIVE);
  deps.log.info('failure queue redriven', { redriven: outcome.redriven.length, kept: outcome.kept.length, actor: userActor(request.caller).id });
  return jsonResponse(200, outcome);
}

const ROUTES: ConsoleRoutes<ConsoleQueueDeps> = {
  'GET /failure-queue': failureQueue,
  'POST /failure-queue/redrive': redrive,
};

export const handleConsoleQueue = (event: unknown, deps: ConsoleQueueDeps): Promise<HttpApiResult> => routeOperatorRequest(event, ROUTES, deps, 'console failure-queue request failed');
