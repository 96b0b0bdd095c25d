import type { IotAccount } from './registry/account';
import { JobsRejection, type JobExecution } from './registry/jobs';

/**
 * The Jobs device MQTT API (developer guide, "Jobs device MQTT API operations",
 * https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html, and "Jobs notifications",
 * https://docs.aws.amazon.com/iot/latest/developerguide/jobs-comm-notifications.html), over the account's
 * JobsService (registry/jobs.ts):
 *
 * - requests: `$aws/things/<thing>/jobs/get` (GetPendingJobExecutions), `…/jobs/start-next`
 *   (StartNextPendingJobExecution), `…/jobs/<jobId|$next>/get` (DescribeJobExecution) and `…/jobs/<jobId>/update`
 *   (UpdateJobExecution); the answer goes to `<request topic>/accepted` or `/rejected`, with the request's
 *   clientToken and a timestamp, in seconds since the epoch ("timestamp: The time in seconds since the epoch,
 *   when the message was sent", the MQTT API page), as are the executions' times. A rejection carries `code`
 *   (InvalidTopic, InvalidJson, InvalidRequest, InvalidStateTransition, ResourceNotFound, VersionMismatch, ...)
 *   and `message`, and the execution's state for InvalidStateTransition and VersionMismatch.
 * - notifications: `…/jobs/notify` (ListNotification: the pending executions, IN_PROGRESS before QUEUED, then by
 *   queue time, at most 10 without scheduling) whenever an execution is queued, changes between pending states or
 *   ends; `…/jobs/notify-next` (NextNotification: the next execution with its document, or none) whenever the
 *   first of that list changes.
 *
 * The answers go to the requesting connection only: "These response messages don't pass through the message
 * broker and can't be subscribed to by other clients or rules", and the broker sends them "whether or not your
 * client has subscribed to the response message topics" (the MQTT API page). mqtt-endpoint.ts still requires
 * iot:Receive on the reply topic (fail closed; the AWS sample policies grant it) and iot:Publish on the request.
 */

const JOBS_TOPIC = /^\$aws\/things\/([^/]+)\/jobs(?:\/(.*))?$/;

/** A topic of the Jobs API (requests, answers, notifications). */
export function isJobsTopic(topic: string): boolean {
  return JOBS_TOPIC.test(topic);
}

/** A topic a device publishes to: anything under `jobs/` that is not an answer or a notification. */
export function isJobsRequestTopic(topic: string): boolean {
  const match = JOBS_TOPIC.exec(topic);
  if (!match) return false;
  const rest = match[2] ?? '';
  return !(rest === 'notify' || rest === 'notify-next' || rest.endsWith('/accepted') || rest.endsWith('/rejected'));
}

export interface JobsReply {
  topic: string;
  payload: Record<string, unknown>;
}

/** The 10 executions a ListNotification holds at most (without scheduling configurations: "Jobs notifications"). */
const LIST_NOTIFICATION_SIZE = 10;

const seconds = (date: Date | undefined) => (date ? Math.floor(date.getTime() / 1000) : undefined);

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

export class JobsMqtt {
  /** What was last notified per account and thing (a notification goes out when it changes). */
  private readonly lastNotified = new Map<string, { list: string; next: string }>();
  private readonly watched = new Map<string, { account: IotAccount; stop: () => void }>();
  private readonly ticker: NodeJS.Timeout;

  constructor(
    /** Sends a notification to the account's connections subscribed to the topic (iot:Receive applies). */
    private readonly notify: (account: IotAccount, topic: string, payload: Buffer) => void,
    tickMs = 250,
  ) {
    // Rollout batches and timeouts fall due with time, not with a call: the watched accounts advance on a tick.
    this.ticker = setInterval(() => {
      for (const { account } of this.watched.values()) account.jobs.advance();
    }, tickMs);
    this.ticker.unref();
  }

  /** Notifications for the account's things from now on (called on the account's first connection). */
  watch(account: IotAccount): void {
    if (this.watched.has(account.accountId)) return;
    const stop = account.jobs.onExecutionChange((thingName) => this.changed(account, thingName));
    this.watched.set(account.accountId, { account, stop });
  }

  close(): void {
    clearInterval(this.ticker);
    for (const { stop } of this.watched.values()) stop();
    this.watched.clear();
  }

  private pendingOf(account: IotAccount, thingName: string): JobExecution[] {
    const executions = account.jobs.executionsOfThing(thingName);
    return [...executions.filter((e) => e.status === 'IN_PROGRESS'), ...executions.filter((e) => e.status === 'QUEUED')];
  }

  private changed(account: IotAccount, thingName: string): void {
    const pending = this.pendingOf(account, thingName);
    const key = `${account.accountId}/${thingName}`;
    const last = this.lastNotified.get(key) ?? { list: '[]', next: '' };
    const list = JSON.stringify(pending.map((e) => [e.jobId, e.status, e.executionNumber]));
    const next = pending[0] ? `${pending[0].jobId}/${pending[0].executionNumber}` : '';
    this.lastNotified.set(key, { list, next });
    const now = seconds(account.now());
    const prefix = `$aws/things/${thingName}/jobs`;
    if (list !== last.list) {
      const shown = pending.slice(0, LIST_NOTIFICATION_SIZE);
      const byStatus = (status: string) => shown.filter((e) => e.status === status).map(summary);
      const jobs = withoutUndefined({ IN_PROGRESS: byStatus('IN_PROGRESS').length ? byStatus('IN_PROGRESS') : undefined, QUEUED: byStatus('QUEUED').length ? byStatus('QUEUED') : undefined });
      this.notify(account, `${prefix}/notify`, Buffer.from(JSON.stringify({ timestamp: now, jobs })));
    }
    if (next !== last.next) {
      const first = pending[0];
      this.notify(account, `${prefix}/notify-next`, Buffer.from(JSON.stringify(first ? { timestamp: now, execution: execution(account, first, true) } : { timestamp: now })));
    }
  }

  /** The answer to a request on a Jobs topic, or undefined for a topic that is not a request. */
  handle(account: IotAccount, topic: string, payload: Buffer): JobsReply | undefined {
    const match = JOBS_TOPIC.exec(topic);
    if (!match || !isJobsRequestTopic(topic)) return undefined;
    const thingName = match[1]!;
    const rest = match[2] ?? '';
    const timestamp = () => seconds(account.now());
    let request: Record<string, unknown> = {};
    let clientToken: unknown;
    try {
      request = parse(payload);
      clientToken = request.clientToken;
      const answer = this.answer(account, thingName, rest, request);
      return { topic: `${topic}/accepted`, payload: withoutUndefined({ ...answer, timestamp: timestamp(), clientToken }) };
    } catch (error) {
      if (!(error instanceof JobsRejection)) throw error;
      return {
        topic: `${topic}/rejected`,
        payload: withoutUndefined({
          code: error.code,
          message: error.message,
          clientToken,
          timestamp: timestamp(),
          ...(error.execution ? { executionState: executionState(error.execution) } : {}),
        }),
      };
    }
  }

  private answer(account: IotAccount, thingName: string, rest: string, request: Record<string, unknown>): Record<string, unknown> {
    if (!account.things.find(thingName)) throw new JobsRejection('ResourceNotFound', `Thing ${thingName} cannot be found.`);
    if (rest === 'get') {
      const pending = this.pendingOf(account, thingName);
      return { inProgressJobs: pending.filter((e) => e.status === 'IN_PROGRESS').map(summary), queuedJobs: pending.filter((e) => e.status === 'QUEUED').map(summary) };
    }
    if (rest === 'start-next') {
      const next = account.jobs.startNext(thingName, { statusDetails: request.statusDetails, stepTimeoutInMinutes: request.stepTimeoutInMinutes });
      return next ? { execution: execution(account, next, true) } : {};
    }
    const operation = /^([a-zA-Z0-9_-]{1,64}|\$next)\/(get|update)$/.exec(rest);
    if (!operation) throw new JobsRejection('InvalidTopic', `${rest} maps to no Jobs API operation.`);
    const [, jobId, verb] = operation;
    if (verb === 'get') {
      const includeJobDocument = request.includeJobDocument !== false;
      if (jobId === '$next') {
        account.jobs.advance();
        const next = account.jobs.nextPending(thingName);
        return next ? { execution: execution(account, next, includeJobDocument) } : {};
      }
      const found = account.jobs.findExecution(jobId!, thingName);
      if (!found || (request.executionNumber !== undefined && request.executionNumber !== found.executionNumber)) {
        throw new JobsRejection('ResourceNotFound', `No job execution of job ${jobId} on thing ${thingName}.`);
      }
      return { execution: execution(account, found, includeJobDocument) };
    }
    if (jobId === '$next') throw new JobsRejection('InvalidTopic', 'An update names its job: $next/update maps to no Jobs API operation.');
    const updated = account.jobs.update(jobId!, thingName, {
      status: request.status,
      statusDetails: request.statusDetails,
      expectedVersion: request.expectedVersion,
      executionNumber: request.executionNumber,
      stepTimeoutInMinutes: request.stepTimeoutInMinutes,
    });
    return {
      ...(request.includeJobExecutionState === true ? { executionState: executionState(updated) } : {}),
      ...(request.includeJobDocument === true ? { jobDocument: documentOf(account, updated.jobId) } : {}),
    };
  }
}

function parse(payload: Buffer): Record<string, unknown> {
  const text = payload.toString('utf8').trim();
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JobsRejection('InvalidJson', 'The request is not valid UTF-8 JSON.');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new JobsRejection('InvalidRequest', 'The request must be a JSON object.');
  return value as Record<string, unknown>;
}

/** JobExecutionSummary ("Jobs device MQTT and HTTPS data types"). */
function summary(e: JobExecution): Record<string, unknown> {
  return withoutUndefined({ jobId: e.jobId, queuedAt: seconds(e.queuedAt), startedAt: seconds(e.startedAt), lastUpdatedAt: seconds(e.lastUpdatedAt), versionNumber: e.versionNumber, executionNumber: e.executionNumber });
}

/** JobExecutionState. */
function executionState(e: JobExecution): Record<string, unknown> {
  return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber };
}

/** The job's document as the device gets it: the JSON document itself (a documentSource job has none here). */
function documentOf(account: IotAccount, jobId: string): unknown {
  const document = account.jobs.jobOf(jobId)?.document;
  return document === undefined ? undefined : (JSON.parse(document) as unknown);
}

/** JobExecution, with approximateSecondsBeforeTimedOut while a timer runs. */
function execution(account: IotAccount, e: JobExecution, includeJobDocument: boolean): Record<string, unknown> {
  const deadlines = [e.inProgressDeadline, e.stepDeadline].filter((d): d is Date => d !== undefined).map((d) => d.getTime());
  const now = account.now().getTime();
  return withoutUndefined({
    jobId: e.jobId,
    thingName: e.thingName,
    jobDocument: includeJobDocument ? documentOf(account, e.jobId) : undefined,
    status: e.status,
    statusDetails: e.statusDetails,
    queuedAt: seconds(e.queuedAt),
    startedAt: seconds(e.startedAt),
    lastUpdatedAt: seconds(e.lastUpdatedAt),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
    approximateSecondsBeforeTimedOut: deadlines.length ? Math.max(0, Math.ceil((Math.min(...deadlines) - now) / 1000)) : undefined,
  });
}
