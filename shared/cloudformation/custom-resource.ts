import type * as z from 'zod/mini';
import { raceDeadline, type Raced } from '../lambda/deadline';
import type { Log } from '../log';
import {
  answerableRequestSchema,
  customResourceRequestSchema,
  type AnswerableRequest,
  type CreateRequest,
  type CustomResourceRequest,
  type DeleteRequest,
  type UpdateRequest,
} from '../schemas/cloudformation-event';
import { issuesOf, issuesText } from '../schemas/issues';
import type { CustomResourceResponse, DeliveryOptions } from './respond';

/**
 * The CloudFormation custom-resource protocol of a Lambda-backed resource (aws-iot-reference §7), apart from
 * what any one resource does. A resource brings its Create, Update and Delete (`CustomResource`); this
 * module makes sure CloudFormation always hears back, because it waits for an answer until the resource's
 * ServiceTimeout (an hour by default):
 *
 * - Every request that says where to answer and what to echo is answered once: SUCCESS with what the work
 *   returned, or FAILED — for a malformed request, invalid properties, an error, or a timeout. The body is
 *   kept within CloudFormation's 4,096 bytes by `respond.ts`, which sends it.
 * - The work races the Lambda limit less a safety margin; at the margin the answer goes out (FAILED) and
 *   the work is abandoned at its next `checkpoint`.
 * - `PhysicalResourceId`: a failed Create answers with the id of what it created so far, so that
 *   CloudFormation's rollback Delete removes it, or else with the placeholder `not-created:<RequestId>`
 *   (which a resource's Delete should recognise as nothing to delete); Update and Delete keep their id.
 * - Redaction: a Reason names the request type, the step and a safe exception name, never a message;
 *   logs get an error's name, HTTP status and message with any PEM block cut. The ResponseURL (a
 *   presigned credential) is never logged.
 * - It never rejects: a rejection would make Lambda run the request again, as after a crash.
 */

/** What a request's work has done so far: what a failure or timeout answer needs to know of it. */
export interface Progress<Step extends string, Created extends { physicalResourceId: string }> {
  /** The step the work is in; a Reason names it. */
  step: Step;
  /** What this request created so far; a failed Create answers with its physical id. */
  created?: Created;
  /** Aborted once the answer has gone out without the work (timeout): `checkpoint` then stops it. */
  readonly signal: AbortSignal;
}

/** What a Create, Update or Delete that succeeded answers. */
export interface Done {
  physicalResourceId: string;
  /** What `Fn::GetAtt` reads. */
  data?: Record<string, string>;
}

/** The outcome of work that did not succeed, and what it had done. */
export interface Failure<Step extends string, Created extends { physicalResourceId: string }> {
  request: CustomResourceRequest;
  outcome: Exclude<Raced<Done>, { kind: 'done' }>;
  progress: Progress<Step, Created>;
  /** Epoch milliseconds by which a cleanup should have settled (shortly before the Lambda limit). */
  until: number;
}

/** One kind of custom resource: its work per request type. Throw InvalidPropertiesError for bad properties. */
export interface CustomResource<Step extends string, Created extends { physicalResourceId: string } = { physicalResourceId: string }> {
  /** The step a request is in before its work reaches its first checkpoint. */
  firstStep: Step;
  create(request: CreateRequest, progress: Progress<Step, Created>): Promise<Done>;
  update(request: UpdateRequest, progress: Progress<Step, Created>): Promise<Done>;
  delete(request: DeleteRequest, progress: Progress<Step, Created>): Promise<Done>;
  /**
   * Runs after the FAILED answer to work that failed or timed out (e.g. to remove what it made), and should
   * settle by `failure.until`; one that rejects, or is still running at the answer's deadline, is logged.
   */
  afterFailedAnswer?(failure: Failure<Step, Created>): Promise<void>;
}

export interface CustomResourceSettings {
  /** Time kept back from the Lambda limit to answer in (the PUT and its retries). */
  safetyMarginMs: number;
}

export const DEFAULT_CUSTOM_RESOURCE_SETTINGS: CustomResourceSettings = { safetyMarginMs: 5_000 };

export interface CustomResourceDeps {
  /** Sends the answer to the ResponseURL (`sendResponse` of `./respond`). */
  respond: (responseUrl: string, response: CustomResourceResponse, options: DeliveryOptions) => Promise<unknown>;
  settings: CustomResourceSettings;
  log: Log;
}

/** The part of the Lambda context the protocol uses. */
export interface LambdaClock {
  getRemainingTimeInMillis(): number;
  logStreamName?: string;
}

/** The resource's properties are not what it takes: the Reason is the error's message. */
export class InvalidPropertiesError extends Error {
  override name = 'InvalidPropertiesError';
}

/** The work was abandoned because its answer has been sent already (timeout). */
export class AbandonedError extends Error {
  override name = 'AbandonedError';
}

/** The properties read with `schema`, or InvalidPropertiesError naming each issue (`ThingName: must be …; …`). */
export function readProperties<S extends z.ZodMiniType>(schema: S, properties: unknown): z.infer<S> {
  const parsed = schema.safeParse(properties);
  if (!parsed.success) throw new InvalidPropertiesError(`invalid properties: ${issuesText(issuesOf(parsed.error))}`);
  return parsed.data;
}

/** Enters `step`, or stops the work (AbandonedError) when its answer has gone out without it. */
export function checkpoint<Step extends string>(progress: { step: Step; readonly signal: AbortSignal }, step: Step): void {
  if (progress.signal.aborted) throw new AbandonedError(`abandoned before ${step}`);
  progress.step = step;
}

/**
 * Runs `work` with a fresh progress (in `firstStep`), raced against `deadline` (epoch milliseconds). Its
 * signal is aborted the moment the deadline passes, so the work stops at its next checkpoint.
 */
export async function runUntil<T, Step extends string, Created extends { physicalResourceId: string }>(
  firstStep: Step,
  work: (progress: Progress<Step, Created>) => Promise<T>,
  deadline: number,
): Promise<{ outcome: Raced<T>; progress: Progress<Step, Created> }> {
  // raceDeadline calls the function at once: progress is set before anything reads it.
  let progress!: Progress<Step, Created>;
  const outcome = await raceDeadline((signal) => {
    progress = { step: firstStep, signal };
    return work(progress);
  }, deadline);
  return { outcome, progress };
}

const PEM_BLOCK = /-----BEGIN [^-]+-----[\s\S]*?(-----END [^-]+-----|$)/g;

/** What may be logged of an error: its name, HTTP status, and message with any PEM block cut out. */
export function loggableError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { name: error.name, message: error.message.replace(PEM_BLOCK, '[PEM redacted]'), ...(status ? { httpStatusCode: status } : {}) };
}

/** An error's name is safe to show in the stack's events when it looks like an exception class name. */
export const safeErrorName = (error: unknown): string =>
  error instanceof Error && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(error.name) ? error.name : 'Error';

/** A Create that failed before it created anything answers with this id. */
const placeholderFor = (request: { RequestId: string }) => `not-created:${request.RequestId}`.slice(0, 1024);

// The answer's delivery stops this long before the Lambda limit, a cleanup after it twice as long before.
const ANSWER_SLACK_MS = 250;

const echo = (request: AnswerableRequest | CustomResourceRequest) => ({
  StackId: request.StackId,
  RequestId: request.RequestId,
  LogicalResourceId: request.LogicalResourceId,
});

async function answer(url: string, response: CustomResourceResponse, deadline: number, deps: CustomResourceDeps): Promise<CustomResourceResponse> {
  const summary = { status: response.Status, physicalResourceId: response.PhysicalResourceId, ...(response.Reason ? { reason: response.Reason } : {}) };
  try {
    await deps.respond(url, response, { deadline });
    deps.log.info('answered CloudFormation', summary);
  } catch (error) {
    deps.log.error('could not answer CloudFormation; the stack waits until the resource’s ServiceTimeout', { ...summary, error: loggableError(error) });
  }
  return response;
}

/** The resource's work for the request's type; async, so that a resource that throws at once rejects. */
async function perform<Step extends string, Created extends { physicalResourceId: string }>(
  request: CustomResourceRequest,
  resource: CustomResource<Step, Created>,
  progress: Progress<Step, Created>,
): Promise<Done> {
  switch (request.RequestType) {
    case 'Create':
      return resource.create(request, progress);
    case 'Update':
      return resource.update(request, progress);
    case 'Delete':
      return resource.delete(request, progress);
  }
}

/**
 * Handles one custom-resource request with `resource` and answers it. Resolves with the answer (also when
 * it could not be delivered), or `undefined` for an event that names no ResponseURL to answer. Never rejects.
 */
export async function handleCustomResourceRequest<Step extends string, Created extends { physicalResourceId: string }>(
  event: unknown,
  lambda: LambdaClock,
  resource: CustomResource<Step, Created>,
  deps: CustomResourceDeps,
): Promise<CustomResourceResponse | undefined> {
  const remainingMs = lambda.getRemainingTimeInMillis();
  const limit = Date.now() + remainingMs;
  // Answers are sent up to shortly before the Lambda limit.
  const deadline = limit - ANSWER_SLACK_MS;
  const details = lambda.logStreamName ? `details in CloudWatch Logs, log stream ${lambda.logStreamName}` : 'details in the function’s logs';

  const parsed = customResourceRequestSchema.safeParse(event);
  if (!parsed.success) {
    const answerable = answerableRequestSchema.safeParse(event);
    const issues = issuesText(issuesOf(parsed.error));
    if (!answerable.success) {
      deps.log.error('not a CloudFormation custom-resource request; there is nothing to answer', { issues });
      return undefined;
    }
    const request = answerable.data;
    deps.log.error('invalid custom-resource request', { issues, requestId: request.RequestId, logicalResourceId: request.LogicalResourceId });
    const physicalResourceId = request.RequestType === 'Create' || !request.PhysicalResourceId ? placeholderFor(request) : request.PhysicalResourceId;
    return answer(request.ResponseURL, { Status: 'FAILED', Reason: `invalid request: ${issues}`, PhysicalResourceId: physicalResourceId, ...echo(request) }, deadline, deps);
  }

  const request = parsed.data;
  const about = { requestType: request.RequestType, logicalResourceId: request.LogicalResourceId, stackId: request.StackId, requestId: request.RequestId };
  deps.log.info('custom-resource request', {
    ...about,
    ...(request.RequestType === 'Create' ? {} : { physicalResourceId: request.PhysicalResourceId }),
  });
  const { outcome, progress } = await runUntil(resource.firstStep, (p: Progress<Step, Created>) => perform(request, resource, p), limit - deps.settings.safetyMarginMs);

  if (outcome.kind === 'done') {
    const { physicalResourceId, data } = outcome.value;
    return answer(request.ResponseURL, { Status: 'SUCCESS', PhysicalResourceId: physicalResourceId, ...(data ? { Data: data } : {}), ...echo(request) }, deadline, deps);
  }

  // What the answer says the resource is: a failed Update or Delete keeps its id; a failed Create is what it
  // created, so that CloudFormation's Delete during rollback removes it.
  const physicalResourceId = request.RequestType === 'Create' ? (progress.created?.physicalResourceId ?? placeholderFor(request)) : request.PhysicalResourceId;
  let reason: string;
  if (outcome.kind === 'timed-out') {
    reason = `${request.RequestType} timed out while ${progress.step} (answered ${Math.round(deps.settings.safetyMarginMs / 1000)} s before the Lambda limit); ${details}`;
    deps.log.error('custom-resource request timed out', { ...about, step: progress.step });
  } else if (outcome.error instanceof InvalidPropertiesError) {
    reason = outcome.error.message;
    deps.log.error('invalid properties', { ...about, reason });
  } else {
    reason = `${request.RequestType} failed while ${progress.step} (${safeErrorName(outcome.error)}); ${details}`;
    deps.log.error('custom-resource request failed', { ...about, step: progress.step, error: loggableError(outcome.error) });
  }
  const response = await answer(request.ResponseURL, { Status: 'FAILED', Reason: reason, PhysicalResourceId: physicalResourceId, ...echo(request) }, deadline, deps);

  if (resource.afterFailedAnswer) {
    // Not waited for past the answer's own deadline, and never a rejection.
    const cleanup = await raceDeadline(() => resource.afterFailedAnswer!({ request, outcome, progress, until: limit - 2 * ANSWER_SLACK_MS }), deadline);
    if (cleanup.kind !== 'done') {
      deps.log.error('the cleanup after a failed request did not finish', { ...about, ...(cleanup.kind === 'failed' ? { error: loggableError(cleanup.error) } : {}) });
    }
  }
  return response;
}
