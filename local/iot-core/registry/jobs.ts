import { randomUUID } from 'node:crypto';
import { IotError, invalid, notFound } from '../errors';
import { page, type AccountScope, type Page, type Paging } from './support';

/**
 * One account's AWS IoT Jobs: job templates, jobs, and their job executions, one per targeted thing.
 *
 * - Job execution states and who moves them (developer guide, "Jobs and job execution states",
 *   https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html): QUEUED and IN_PROGRESS
 *   are pending; SUCCEEDED, FAILED, REJECTED (the device's), TIMED_OUT (the in-progress or step timer's),
 *   CANCELED (CancelJob / CancelJobExecution) and REMOVED (the thing left the targets of a continuous job)
 *   are terminal. A device may report IN_PROGRESS, SUCCEEDED, FAILED or REJECTED from a pending state only.
 * - versionNumber starts at 1 and grows by one with every update of the execution; an update naming
 *   `expectedVersion` that differs is refused (VersionMismatch on MQTT, VersionConflictException on
 *   CancelJobExecution: the model's documentation of `expectedVersion`).
 * - Rollout, abort and timeout configurations (developer guide, "Job rollout, scheduling, and abort
 *   configurations", https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html,
 *   and "Job execution timeout configurations"):
 *   - `maximumPerMinute` things are notified per minute (a batch a minute, here); `exponentialRate` starts at
 *     `baseRatePerMinute` and multiplies the rate by `incrementFactor` each time `numberOfNotifiedThings` more
 *     things were notified, or `numberOfSucceededThings` more succeeded, since the rate last rose (rate at most
 *     1000, the model's MaximumPerMinute/ExponentialRate ranges).
 *   - an abort criterion cancels the job once at least `minNumberOfExecutedThings` things were notified ("The
 *     minimum number of things which must receive job execution notifications before the job can be aborted",
 *     https://docs.aws.amazon.com/iot/latest/apireference/API_AbortCriteria.html) and the executions in
 *     `failureType` (ALL: FAILED, REJECTED and TIMED_OUT) reach `thresholdPercentage` of those notified things
 *     (an assumption: AWS does not say what the percentage is of; the notified things are the "executed things"
 *     the criterion counts). The job is canceled as CancelJob without force does: queued executions are CANCELED,
 *     those in progress carry on (an assumption: the guide says the job is canceled, not with force).
 *   - `inProgressTimeoutInMinutes` (1–10080) starts when the execution goes IN_PROGRESS and ends it TIMED_OUT;
 *     a device's `stepTimeoutInMinutes` sets a step timer, replaced by the next update (-1 clears it).
 * - Time is the account's clock (`scope.now()`): `advance()` applies everything due up to now, and each call
 *   here runs it first, so a test that moves the clock sees rollouts and timeouts without waiting.
 * - SNAPSHOT jobs complete when every target's execution is terminal; CONTINUOUS jobs stay IN_PROGRESS and
 *   queue executions for things that join a target group later (found when `advance()` runs).
 */

export type JobExecutionStatus = 'QUEUED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'REJECTED' | 'REMOVED' | 'CANCELED';
export type JobStatus = 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED' | 'DELETION_IN_PROGRESS' | 'SCHEDULED';
export type TargetSelection = 'SNAPSHOT' | 'CONTINUOUS';

export const PENDING: readonly JobExecutionStatus[] = ['QUEUED', 'IN_PROGRESS'];
const DEVICE_STATUSES: readonly string[] = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'];
const EXECUTION_STATUSES: readonly string[] = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED'];
const JOB_STATUSES: readonly string[] = ['IN_PROGRESS', 'CANCELED', 'COMPLETED', 'DELETION_IN_PROGRESS', 'SCHEDULED'];
const isPending = (status: JobExecutionStatus) => PENDING.includes(status);

export interface RolloutConfig {
  maximumPerMinute?: number;
  exponentialRate?: { baseRatePerMinute: number; incrementFactor: number; rateIncreaseCriteria: { numberOfNotifiedThings?: number; numberOfSucceededThings?: number } };
}
export interface AbortCriteria {
  failureType: 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL';
  action: 'CANCEL';
  thresholdPercentage: number;
  minNumberOfExecutedThings: number;
}
export interface AbortConfig {
  criteriaList: AbortCriteria[];
}
export interface TimeoutConfig {
  inProgressTimeoutInMinutes?: number;
}

/** What a job and a job template share. */
interface JobConfiguration {
  description?: string;
  document?: string;
  documentSource?: string;
  jobExecutionsRolloutConfig?: RolloutConfig;
  abortConfig?: AbortConfig;
  timeoutConfig?: TimeoutConfig;
}

export interface JobTemplate extends JobConfiguration {
  readonly jobTemplateId: string;
  readonly jobTemplateArn: string;
  readonly createdAt: Date;
}

export interface JobProcessDetails {
  processingTargets: string[];
  numberOfCanceledThings: number;
  numberOfSucceededThings: number;
  numberOfFailedThings: number;
  numberOfRejectedThings: number;
  numberOfQueuedThings: number;
  numberOfInProgressThings: number;
  numberOfRemovedThings: number;
  numberOfTimedOutThings: number;
}

export interface Job extends JobConfiguration {
  readonly jobId: string;
  readonly jobArn: string;
  readonly targets: readonly string[];
  readonly targetSelection: TargetSelection;
  status: JobStatus;
  forceCanceled?: boolean;
  reasonCode?: string;
  comment?: string;
  readonly createdAt: Date;
  lastUpdatedAt: Date;
  completedAt?: Date;
  readonly jobTemplateArn?: string;
}

export interface JobExecution {
  readonly jobId: string;
  readonly thingName: string;
  readonly thingArn: string;
  status: JobExecutionStatus;
  forceCanceled?: boolean;
  statusDetails: Record<string, string>;
  readonly queuedAt: Date;
  startedAt?: Date;
  lastUpdatedAt: Date;
  readonly executionNumber: number;
  versionNumber: number;
  /** When the in-progress timer ends the execution TIMED_OUT. */
  inProgressDeadline?: Date;
  /** When the device's step timer ends it. */
  stepDeadline?: Date;
}

/** An execution changed: the Jobs MQTT API tells the thing (jobs-mqtt.ts, notify and notify-next). */
export type ExecutionListener = (thingName: string) => void;

interface JobState {
  job: Job;
  /** Targeted things not yet notified (the rollout releases them), in target order. */
  pending: string[];
  /** Every thing the job ever targeted (a CONTINUOUS job queues only newcomers). */
  seen: Set<string>;
  rate: number | undefined;
  nextReleaseAt: Date;
  notifiedAtRateChange: number;
  succeededAtRateChange: number;
}

const ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MINUTE = 60_000;
/** The document's size limit: 32 KB (the model's JobDocument, max 32768). */
const MAX_DOCUMENT = 32_768;

export interface JobsPorts {
  /** The thing, or undefined. */
  thingArnOf(thingName: string): string | undefined;
  /** Every thing of the group, child groups' too; ResourceNotFoundException if there is no such group. */
  thingsOfGroup(groupName: string): string[];
  /** A Jobs event (jobEventPayload / jobExecutionEventPayload); the account publishes it if its type is enabled. */
  publishEvent?(type: 'JOB' | 'JOB_EXECUTION', topic: string, payload: Record<string, unknown>): void;
}

/**
 * Jobs events (developer guide "Jobs events", https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html):
 * `$aws/events/job/<jobId>/completed|canceled|deleted|cancellation_in_progress|deletion_in_progress` and
 * `$aws/events/jobExecution/<jobId>/<operation>` when an execution ends (succeeded, failed, rejected, canceled,
 * timed_out, removed) or is deleted with its job. timestamp: epoch seconds, as the page's example (1234567890).
 */
export type JobOperation = 'completed' | 'canceled' | 'deleted' | 'cancellation_in_progress' | 'deletion_in_progress';

export function jobEventPayload(job: Job, operation: JobOperation, now: Date): Record<string, unknown> {
  return {
    eventType: 'JOB',
    eventId: randomUUID(),
    timestamp: Math.floor(now.getTime() / 1000),
    operation,
    jobId: job.jobId,
    status: job.status,
    targetSelection: job.targetSelection,
    targets: [...job.targets],
    ...(job.description !== undefined ? { description: job.description } : {}),
    createdAt: Math.floor(job.createdAt.getTime() / 1000),
    lastUpdatedAt: Math.floor(job.lastUpdatedAt.getTime() / 1000),
    ...(job.completedAt ? { completedAt: Math.floor(job.completedAt.getTime() / 1000) } : {}),
    ...(job.comment !== undefined ? { comment: job.comment } : {}),
  };
}

export function jobExecutionEventPayload(execution: JobExecution, operation: string, now: Date): Record<string, unknown> {
  return {
    eventType: 'JOB_EXECUTION',
    eventId: randomUUID(),
    timestamp: Math.floor(now.getTime() / 1000),
    operation,
    jobId: execution.jobId,
    thingArn: execution.thingArn,
    status: execution.status,
    statusDetails: { ...execution.statusDetails },
  };
}

export interface CreateJobInput extends JobConfiguration {
  targets?: unknown;
  targetSelection?: string | undefined;
  jobTemplateArn?: string | undefined;
}

export class JobsService {
  private readonly templates = new Map<string, JobTemplate>();
  private readonly jobs = new Map<string, JobState>();
  /** How long a minute of rollouts and timeouts lasts (setTimeScale). */
  private minuteMs = MINUTE;
  /** Executions by job id, then thing name (the latest; an execution number is unique in the account). */
  private readonly executions = new Map<string, Map<string, JobExecution>>();
  private executionCounter = 0;
  private readonly listeners = new Set<ExecutionListener>();

  constructor(
    private readonly scope: AccountScope,
    private readonly ports: JobsPorts,
  ) {}

  /**
   * A run whose clock goes `timeScale` times faster than AWS's (the bench: its quotas ×timeScale, Lambda's delays
   * ÷timeScale): the minutes of rollouts (`maximumPerMinute` batches) and of in-progress and step timeouts last
   * 60 s ÷ timeScale, so a job created with the production configuration paces as it would on AWS, in AWS time.
   */
  setTimeScale(timeScale: number): void {
    if (!(timeScale > 0)) throw new Error(`timeScale must be positive, not ${timeScale}`);
    this.minuteMs = MINUTE / timeScale;
  }

  onExecutionChange(listener: ExecutionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private jobEvent(job: Job, operation: JobOperation): void {
    this.ports.publishEvent?.('JOB', `$aws/events/job/${job.jobId}/${operation}`, jobEventPayload(job, operation, this.scope.now()));
  }

  private executionEvent(execution: JobExecution, operation: string): void {
    this.ports.publishEvent?.('JOB_EXECUTION', `$aws/events/jobExecution/${execution.jobId}/${operation}`, jobExecutionEventPayload(execution, operation, this.scope.now()));
  }

  private changed(thingName: string): void {
    for (const listener of this.listeners) listener(thingName);
  }

  // ---- job templates ----

  /** CreateJobTemplate: from a document, or from an existing job (`jobArn`); ConflictException if the id is taken. */
  createTemplate(jobTemplateId: string, input: JobConfiguration & { jobArn?: string | undefined }): JobTemplate {
    if (!ID.test(jobTemplateId)) throw invalid('jobTemplateId must be 1-64 characters of [a-zA-Z0-9_-].');
    if (typeof input.description !== 'string' || input.description.length > 2028) throw invalid('A job template needs a description of at most 2028 characters.');
    if (this.templates.has(jobTemplateId)) throw new IotError('ConflictException', `Job template ${jobTemplateId} already exists.`, { resourceId: jobTemplateId });
    let configuration: JobConfiguration = input;
    if (input.jobArn !== undefined) {
      const job = [...this.jobs.values()].find((s) => s.job.jobArn === input.jobArn)?.job;
      if (!job) throw notFound(`Job ${input.jobArn} cannot be found.`);
      configuration = { ...pickConfiguration(job), ...definedOnly(input) };
    }
    validateConfiguration(configuration, 'template');
    const template: JobTemplate = {
      ...pickConfiguration(configuration),
      jobTemplateId,
      jobTemplateArn: this.scope.arn(`jobtemplate/${jobTemplateId}`),
      createdAt: this.scope.now(),
    };
    this.templates.set(jobTemplateId, template);
    return template;
  }

  describeTemplate(jobTemplateId: string): JobTemplate {
    const template = this.templates.get(jobTemplateId);
    if (!template) throw notFound(`Job template ${jobTemplateId} cannot be found.`);
    return template;
  }

  findTemplate(jobTemplateId: string): JobTemplate | undefined {
    return this.templates.get(jobTemplateId);
  }

  /** ListJobTemplates: newest first (an assumption: AWS documents no order). */
  listTemplates(paging: Paging): Page<JobTemplate> {
    const all = [...this.templates.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.jobTemplateId < b.jobTemplateId ? -1 : 1));
    return page(all, paging, { name: 'ListJobTemplates', maxSize: 250 });
  }

  deleteTemplate(jobTemplateId: string): void {
    this.describeTemplate(jobTemplateId);
    this.templates.delete(jobTemplateId);
  }

  // ---- jobs ----

  /**
   * CreateJob. The document comes from `document`, or from the job template `jobTemplateArn` names (whose
   * rollout, abort and timeout configurations apply unless the call gives its own). `documentSource` (an S3
   * URL) is kept but not fetched: the local IoT Core needs the document itself. Targets are thing and
   * thing-group ARNs of the account (at least one); a missing thing or group is ResourceNotFoundException.
   */
  createJob(jobId: string, input: CreateJobInput): Job {
    this.advance();
    if (!ID.test(jobId)) throw invalid('jobId must be 1-64 characters of [a-zA-Z0-9_-].');
    if (this.jobs.has(jobId)) throw new IotError('ResourceAlreadyExistsException', `Job ${jobId} already exists.`, { resourceId: jobId, resourceArn: this.scope.arn(`job/${jobId}`) });
    const targets = input.targets;
    if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string')) throw invalid('targets must name at least one thing or thing group ARN.');
    const selection = input.targetSelection ?? 'SNAPSHOT';
    if (selection !== 'SNAPSHOT' && selection !== 'CONTINUOUS') throw invalid(`targetSelection must be SNAPSHOT or CONTINUOUS, not ${selection}.`);
    let template: JobTemplate | undefined;
    if (input.jobTemplateArn !== undefined) {
      const prefix = this.scope.arn('jobtemplate/');
      if (!input.jobTemplateArn.startsWith(prefix)) throw invalid(`${input.jobTemplateArn} is not a job template ARN of this account.`);
      template = this.describeTemplate(input.jobTemplateArn.slice(prefix.length));
    }
    const configuration: JobConfiguration = { ...(template ? pickConfiguration(template) : {}), ...definedOnly(pickConfiguration(input)) };
    if (configuration.document === undefined && configuration.documentSource === undefined) throw invalid('A job needs a document, a documentSource or a jobTemplateArn.');
    if (input.document !== undefined && input.documentSource !== undefined) throw invalid('Give a document or a documentSource, not both.');
    validateConfiguration(configuration, 'job');
    const things = (targets as string[]).flatMap((target) => this.resolveTarget(target));
    const now = this.scope.now();
    const job: Job = {
      ...configuration,
      jobId,
      jobArn: this.scope.arn(`job/${jobId}`),
      targets: [...(targets as string[])],
      targetSelection: selection,
      status: 'IN_PROGRESS',
      createdAt: now,
      lastUpdatedAt: now,
      ...(template ? { jobTemplateArn: template.jobTemplateArn } : {}),
    };
    const rollout = configuration.jobExecutionsRolloutConfig;
    const unique = [...new Set(things)];
    this.jobs.set(jobId, {
      job,
      pending: unique,
      seen: new Set(unique),
      rate: rollout?.exponentialRate?.baseRatePerMinute ?? rollout?.maximumPerMinute,
      nextReleaseAt: now,
      notifiedAtRateChange: 0,
      succeededAtRateChange: 0,
    });
    this.executions.set(jobId, new Map());
    this.advance();
    return job;
  }

  private resolveTarget(target: string): string[] {
    const thingPrefix = this.scope.arn('thing/');
    const groupPrefix = this.scope.arn('thinggroup/');
    if (target.startsWith(thingPrefix)) {
      const thingName = target.slice(thingPrefix.length);
      if (!this.ports.thingArnOf(thingName)) throw notFound(`Thing ${thingName} cannot be found.`);
      return [thingName];
    }
    if (target.startsWith(groupPrefix)) return this.ports.thingsOfGroup(target.slice(groupPrefix.length));
    throw invalid(`${target} is not a thing or thing group ARN of this account.`);
  }

  private stateOf(jobId: string): JobState {
    const state = this.jobs.get(jobId);
    if (!state) throw notFound(`Job ${jobId} cannot be found.`);
    return state;
  }

  describeJob(jobId: string): { job: Job; jobProcessDetails: JobProcessDetails } {
    this.advance();
    const state = this.stateOf(jobId);
    return { job: state.job, jobProcessDetails: this.processDetails(state) };
  }

  private processDetails(state: JobState): JobProcessDetails {
    const count = (status: JobExecutionStatus) => [...this.executionsOf(state.job.jobId)].filter((e) => e.status === status).length;
    return {
      // "The target devices to which the job execution is being rolled out" (the model): those not yet notified.
      // "The target devices to which the job execution is being rolled out. This value will be null after the
      // job execution has finished rolling out to all the target devices" (the model): the targets, while any wait.
      processingTargets: state.job.status === 'IN_PROGRESS' && state.pending.length ? [...state.job.targets] : [],
      numberOfCanceledThings: count('CANCELED'),
      numberOfSucceededThings: count('SUCCEEDED'),
      numberOfFailedThings: count('FAILED'),
      numberOfRejectedThings: count('REJECTED'),
      numberOfQueuedThings: count('QUEUED'),
      numberOfInProgressThings: count('IN_PROGRESS'),
      numberOfRemovedThings: count('REMOVED'),
      numberOfTimedOutThings: count('TIMED_OUT'),
    };
  }

  /** ListJobs: newest first; `status` and `targetSelection` filter; `thingGroupName` keeps the jobs targeting that group. */
  listJobs(paging: Paging, filter: { status?: string | undefined; targetSelection?: string | undefined; thingGroupName?: string | undefined } = {}): Page<Job> {
    this.advance();
    if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) throw invalid(`${filter.status} is not a job status.`);
    const groupArn = filter.thingGroupName === undefined ? undefined : this.scope.arn(`thinggroup/${filter.thingGroupName}`);
    const jobs = [...this.jobs.values()]
      .map((s) => s.job)
      .filter((j) => (filter.status === undefined || j.status === filter.status) && (filter.targetSelection === undefined || j.targetSelection === filter.targetSelection) && (groupArn === undefined || j.targets.includes(groupArn)))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.jobId < b.jobId ? -1 : 1));
    return page(jobs, paging, { name: 'ListJobs', scope: JSON.stringify(filter), maxSize: 250 });
  }

  private *executionsOf(jobId: string): Iterable<JobExecution> {
    yield* this.executions.get(jobId)?.values() ?? [];
  }

  private checkStatus(status: string | undefined): void {
    if (status !== undefined && !EXECUTION_STATUSES.includes(status)) throw invalid(`${status} is not a job execution status.`);
  }

  /** ListJobExecutionsForJob: in the order the executions were queued. */
  listExecutionsForJob(jobId: string, paging: Paging, status?: string): Page<JobExecution> {
    this.advance();
    this.stateOf(jobId);
    this.checkStatus(status);
    const all = [...this.executionsOf(jobId)].filter((e) => status === undefined || e.status === status);
    return page(all, paging, { name: 'ListJobExecutionsForJob', scope: `${jobId}/${status ?? ''}`, maxSize: 250 });
  }

  /** ListJobExecutionsForThing: newest first (an assumption). A thing that does not exist is ResourceNotFoundException. */
  listExecutionsForThing(thingName: string, paging: Paging, filter: { status?: string | undefined; jobId?: string | undefined } = {}): Page<JobExecution> {
    this.advance();
    if (!this.ports.thingArnOf(thingName)) throw notFound(`Thing ${thingName} cannot be found.`);
    this.checkStatus(filter.status);
    const all = this.executionsOfThing(thingName)
      .filter((e) => (filter.status === undefined || e.status === filter.status) && (filter.jobId === undefined || e.jobId === filter.jobId))
      .reverse();
    return page(all, paging, { name: 'ListJobExecutionsForThing', scope: `${thingName}/${JSON.stringify(filter)}`, maxSize: 250 });
  }

  /** The thing's executions, oldest queued first. */
  executionsOfThing(thingName: string): JobExecution[] {
    return [...this.executions.values()]
      .map((byThing) => byThing.get(thingName))
      .filter((e): e is JobExecution => e !== undefined)
      .sort((a, b) => a.queuedAt.getTime() - b.queuedAt.getTime() || a.executionNumber - b.executionNumber);
  }

  /** DescribeJobExecution; `executionNumber`, when given, must be the execution's. */
  describeExecution(jobId: string, thingName: string, executionNumber?: number): JobExecution {
    this.advance();
    const execution = this.executions.get(jobId)?.get(thingName);
    if (!execution || (executionNumber !== undefined && execution.executionNumber !== executionNumber)) {
      throw notFound(`No job execution of job ${jobId} on thing ${thingName}.`);
    }
    return execution;
  }

  findExecution(jobId: string, thingName: string): JobExecution | undefined {
    this.advance();
    return this.executions.get(jobId)?.get(thingName);
  }

  jobOf(jobId: string): Job | undefined {
    return this.jobs.get(jobId)?.job;
  }

  /**
   * CancelJob: the job is CANCELED, things not yet notified never are, QUEUED executions are CANCELED; with
   * `force`, IN_PROGRESS ones too (forceCanceled) ("If true job executions with status IN_PROGRESS and QUEUED are
   * canceled, otherwise only job executions with status QUEUED are canceled", the model's documentation of
   * `force`). A COMPLETED job, or one CANCELED already without force, is refused (InvalidRequestException: an
   * assumption, AWS documents neither case).
   */
  cancelJob(jobId: string, input: { reasonCode?: string | undefined; comment?: string | undefined; force?: boolean | undefined }): Job {
    this.advance();
    const state = this.stateOf(jobId);
    const { job } = state;
    if (job.status === 'COMPLETED') throw invalid(`Job ${jobId} is COMPLETED and cannot be canceled.`);
    if (job.status === 'CANCELED' && !input.force) throw invalid(`Job ${jobId} is already CANCELED; cancel it with force to cancel the executions in progress.`);
    if (input.reasonCode !== undefined && !/^[\p{Lu}\p{N}_]{1,128}$/u.test(input.reasonCode)) throw invalid('reasonCode must be 1-128 upper-case letters, digits or _.');
    if (input.comment !== undefined && input.comment.length > 2028) throw invalid('comment must be at most 2028 characters.');
    this.cancel(state, input.force === true, input);
    return job;
  }

  private cancel(state: JobState, force: boolean, why: { reasonCode?: string | undefined; comment?: string | undefined }): void {
    const { job } = state;
    const now = this.scope.now();
    this.jobEvent(job, 'cancellation_in_progress');
    job.status = 'CANCELED';
    if (force) job.forceCanceled = true;
    if (why.reasonCode !== undefined) job.reasonCode = why.reasonCode;
    if (why.comment !== undefined) job.comment = why.comment;
    job.lastUpdatedAt = now;
    job.completedAt = now;
    state.pending = [];
    for (const execution of this.executionsOf(job.jobId)) {
      if (execution.status === 'QUEUED' || (force && execution.status === 'IN_PROGRESS')) {
        this.settle(execution, 'CANCELED', now);
        if (force) execution.forceCanceled = true;
      }
    }
    this.jobEvent(job, 'canceled');
  }

  /**
   * CancelJobExecution: a QUEUED execution, or with `force` an IN_PROGRESS one, becomes CANCELED; anything else
   * is InvalidStateTransitionException; a differing `expectedVersion` is VersionConflictException.
   */
  cancelExecution(jobId: string, thingName: string, input: { force?: boolean | undefined; expectedVersion?: number | undefined; statusDetails?: unknown }): void {
    this.advance();
    this.stateOf(jobId);
    const execution = this.describeExecution(jobId, thingName);
    if (input.expectedVersion !== undefined && input.expectedVersion !== execution.versionNumber) {
      throw new IotError('VersionConflictException', `The job execution's version is ${execution.versionNumber}, not ${input.expectedVersion}.`);
    }
    if (!(execution.status === 'QUEUED' || (input.force && execution.status === 'IN_PROGRESS'))) {
      throw new IotError('InvalidStateTransitionException', `A job execution in status ${execution.status} cannot be canceled${execution.status === 'IN_PROGRESS' ? ' without force' : ''}.`);
    }
    const details = input.statusDetails === undefined ? undefined : validateStatusDetails(input.statusDetails, invalid);
    if (details) execution.statusDetails = details;
    this.settle(execution, 'CANCELED', this.scope.now());
    if (input.force) execution.forceCanceled = true;
    this.completeIfDone(this.stateOf(jobId));
  }

  /**
   * DeleteJob: "When true, you can delete a job which is IN_PROGRESS. Otherwise, you can only delete a job which
   * is in a terminal state (COMPLETED or CANCELED) or an exception will occur" (the model's documentation of
   * `force`): InvalidStateTransitionException. The job and its executions go at once here (AWS shows
   * DELETION_IN_PROGRESS for a while); the things whose pending executions go with it are notified.
   */
  deleteJob(jobId: string, force: boolean): void {
    this.advance();
    const state = this.stateOf(jobId);
    if (state.job.status === 'IN_PROGRESS' && !force) {
      throw new IotError('InvalidStateTransitionException', `Job ${jobId} is IN_PROGRESS: cancel it first, or delete it with force.`);
    }
    const executions = [...this.executionsOf(jobId)];
    const things = executions.filter((e) => isPending(e.status)).map((e) => e.thingName);
    state.job.status = 'DELETION_IN_PROGRESS';
    state.job.lastUpdatedAt = this.scope.now();
    this.jobEvent(state.job, 'deletion_in_progress');
    this.jobs.delete(jobId);
    this.executions.delete(jobId);
    for (const thing of things) this.changed(thing);
    for (const execution of executions) this.executionEvent(execution, 'deleted');
    this.jobEvent(state.job, 'deleted');
  }

  // ---- what devices do (the Jobs MQTT API, jobs-mqtt.ts) ----

  /**
   * The device reports a status (UpdateJobExecution, StartNextPendingJobExecution). Refusals are JobsRejection
   * with the Jobs API's codes.
   */
  update(
    jobId: string,
    thingName: string,
    input: { status?: unknown; statusDetails?: unknown; expectedVersion?: unknown; executionNumber?: unknown; stepTimeoutInMinutes?: unknown },
  ): JobExecution {
    this.advance();
    const execution = this.executions.get(jobId)?.get(thingName);
    if (!execution || (input.executionNumber !== undefined && input.executionNumber !== execution.executionNumber)) {
      throw new JobsRejection('ResourceNotFound', `No job execution of job ${jobId} on thing ${thingName}.`);
    }
    if (typeof input.status !== 'string' || !DEVICE_STATUSES.includes(input.status)) {
      throw new JobsRejection('InvalidRequest', 'status must be one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED.');
    }
    if (input.expectedVersion !== undefined && input.expectedVersion !== execution.versionNumber) {
      throw new JobsRejection('VersionMismatch', `The job execution's version is ${execution.versionNumber}, not ${String(input.expectedVersion)}.`, execution);
    }
    if (!isPending(execution.status)) {
      throw new JobsRejection('InvalidStateTransition', `The job execution is ${execution.status}: it cannot become ${input.status}.`, execution);
    }
    const details = input.statusDetails === undefined ? undefined : validateStatusDetails(input.statusDetails, (m) => new JobsRejection('InvalidRequest', m));
    const step = validateStepTimeout(input.stepTimeoutInMinutes);
    const now = this.scope.now();
    if (details) execution.statusDetails = details;
    const status = input.status as JobExecutionStatus;
    if (status === 'IN_PROGRESS') this.start(execution, now);
    else this.settle(execution, status, now);
    if (step !== undefined) {
      if (step === -1) delete execution.stepDeadline;
      else execution.stepDeadline = new Date(now.getTime() + step * this.minuteMs);
    }
    if (status !== 'IN_PROGRESS') this.completeIfDone(this.stateOf(jobId));
    return execution;
  }

  /** StartNextPendingJobExecution: the oldest IN_PROGRESS execution, else the oldest QUEUED one, now IN_PROGRESS. */
  startNext(thingName: string, input: { statusDetails?: unknown; stepTimeoutInMinutes?: unknown }): JobExecution | undefined {
    this.advance();
    const next = this.nextPending(thingName);
    if (!next) return undefined;
    const details = input.statusDetails === undefined ? undefined : validateStatusDetails(input.statusDetails, (m) => new JobsRejection('InvalidRequest', m));
    const step = validateStepTimeout(input.stepTimeoutInMinutes);
    const now = this.scope.now();
    if (details) next.statusDetails = details;
    if (next.status === 'QUEUED') this.start(next, now);
    else if (details || step !== undefined) this.bump(next, now);
    if (step !== undefined && step !== -1) next.stepDeadline = new Date(now.getTime() + step * this.minuteMs);
    if (step === -1) delete next.stepDeadline;
    return next;
  }

  /** The execution a device does next: the oldest in progress, else the oldest queued. */
  nextPending(thingName: string): JobExecution | undefined {
    const executions = this.executionsOfThing(thingName);
    return executions.find((e) => e.status === 'IN_PROGRESS') ?? executions.find((e) => e.status === 'QUEUED');
  }

  // ---- the state machine ----

  private bump(execution: JobExecution, now: Date): void {
    execution.versionNumber += 1;
    execution.lastUpdatedAt = now;
  }

  private start(execution: JobExecution, now: Date): void {
    const wasQueued = execution.status === 'QUEUED';
    execution.status = 'IN_PROGRESS';
    if (wasQueued) {
      execution.startedAt = now;
      const minutes = this.jobs.get(execution.jobId)?.job.timeoutConfig?.inProgressTimeoutInMinutes;
      if (minutes !== undefined) execution.inProgressDeadline = new Date(now.getTime() + minutes * this.minuteMs);
    }
    this.bump(execution, now);
    if (wasQueued) this.changed(execution.thingName);
  }

  private settle(execution: JobExecution, status: JobExecutionStatus, now: Date): void {
    execution.status = status;
    delete execution.inProgressDeadline;
    delete execution.stepDeadline;
    this.bump(execution, now);
    this.changed(execution.thingName);
    if (!isPending(status)) this.executionEvent(execution, status.toLowerCase());
  }

  private queue(state: JobState, thingName: string, at: Date): void {
    const thingArn = this.ports.thingArnOf(thingName);
    if (!thingArn) return;
    const execution: JobExecution = {
      jobId: state.job.jobId,
      thingName,
      thingArn,
      status: 'QUEUED',
      statusDetails: {},
      queuedAt: at,
      lastUpdatedAt: at,
      executionNumber: ++this.executionCounter,
      versionNumber: 1,
    };
    this.executions.get(state.job.jobId)!.set(thingName, execution);
    this.changed(thingName);
  }

  /** Applies what is due up to now: rollout batches, timeouts, abort criteria, continuous targets, completion. */
  advance(): void {
    const now = this.scope.now();
    for (const state of this.jobs.values()) {
      // A completed job has nothing pending: nothing of it can fall due.
      if (state.job.status === 'COMPLETED') continue;
      if (state.job.status !== 'IN_PROGRESS') {
        this.timeOut(state, now);
        continue;
      }
      if (state.job.targetSelection === 'CONTINUOUS') this.followTargets(state);
      this.rollOut(state, now);
      this.timeOut(state, now);
      this.abortIfDue(state);
      this.completeIfDone(state);
    }
  }

  private followTargets(state: JobState): void {
    let current: string[];
    try {
      current = [...new Set(state.job.targets.flatMap((t) => this.resolveTarget(t)))];
    } catch {
      return; // a target group deleted since: its things stay as they are
    }
    for (const thing of current) {
      if (!state.seen.has(thing)) {
        state.seen.add(thing);
        state.pending.push(thing);
      }
    }
    // A thing that left the targets of a continuous job: its queued execution is REMOVED (developer guide, job states).
    const now = this.scope.now();
    for (const execution of this.executionsOf(state.job.jobId)) {
      if (execution.status === 'QUEUED' && !current.includes(execution.thingName)) this.settle(execution, 'REMOVED', now);
    }
  }

  private rollOut(state: JobState, now: Date): void {
    const exponential = state.job.jobExecutionsRolloutConfig?.exponentialRate;
    while (state.pending.length && now.getTime() >= state.nextReleaseAt.getTime()) {
      const at = state.nextReleaseAt;
      const batch = state.rate === undefined ? state.pending.length : state.rate;
      for (const thing of state.pending.splice(0, batch)) this.queue(state, thing, now);
      // Without a rate, whatever is pending goes out at once (a CONTINUOUS job's newcomers included).
      state.nextReleaseAt = state.rate === undefined ? at : new Date(at.getTime() + this.minuteMs);
      if (exponential && state.rate !== undefined) {
        const notified = [...this.executionsOf(state.job.jobId)].length;
        const succeeded = [...this.executionsOf(state.job.jobId)].filter((e) => e.status === 'SUCCEEDED').length;
        const { numberOfNotifiedThings, numberOfSucceededThings } = exponential.rateIncreaseCriteria;
        if (
          (numberOfNotifiedThings !== undefined && notified - state.notifiedAtRateChange >= numberOfNotifiedThings) ||
          (numberOfSucceededThings !== undefined && succeeded - state.succeededAtRateChange >= numberOfSucceededThings)
        ) {
          // maximumPerMinute is "The maximum number of things that will be notified of a pending job, per minute"
          // (API_JobExecutionsRolloutConfig.html): read as the ceiling of the exponential rate too (an assumption:
          // the page does not say how the two combine; without it the rate would grow to 1000/min past the maximum).
          const ceiling = Math.min(1000, state.job.jobExecutionsRolloutConfig?.maximumPerMinute ?? 1000);
          state.rate = Math.min(ceiling, Math.max(state.rate + 1, Math.floor(state.rate * exponential.incrementFactor)));
          state.notifiedAtRateChange = notified;
          state.succeededAtRateChange = succeeded;
        }
      }
    }
  }

  private timeOut(state: JobState, now: Date): void {
    for (const execution of this.executionsOf(state.job.jobId)) {
      if (execution.status !== 'IN_PROGRESS') continue;
      const deadlines = [execution.inProgressDeadline, execution.stepDeadline].filter((d): d is Date => d !== undefined);
      if (deadlines.some((d) => now.getTime() >= d.getTime())) this.settle(execution, 'TIMED_OUT', now);
    }
  }

  private abortIfDue(state: JobState): void {
    const criteria = state.job.abortConfig?.criteriaList ?? [];
    if (!criteria.length) return;
    // The things notified: every execution queued so far, but those a continuous job removed.
    const executed = [...this.executionsOf(state.job.jobId)].filter((e) => e.status !== 'REMOVED');
    for (const criterion of criteria) {
      if (executed.length < criterion.minNumberOfExecutedThings) continue;
      const kinds: JobExecutionStatus[] = criterion.failureType === 'ALL' ? ['FAILED', 'REJECTED', 'TIMED_OUT'] : [criterion.failureType];
      const failed = executed.filter((e) => kinds.includes(e.status)).length;
      if ((failed * 100) / executed.length >= criterion.thresholdPercentage) {
        // The reason the job shows (an assumption: AWS documents no reason code for an abort).
        this.cancel(state, false, { reasonCode: `ABORTED_${criterion.failureType}`, comment: `Aborted: ${failed} of ${executed.length} notified things ${criterion.failureType === 'ALL' ? 'failed, were rejected or timed out' : criterion.failureType}, threshold ${criterion.thresholdPercentage}%.` });
        return;
      }
    }
  }

  private completeIfDone(state: JobState): void {
    const { job } = state;
    if (job.status !== 'IN_PROGRESS' || job.targetSelection === 'CONTINUOUS' || state.pending.length) return;
    if ([...this.executionsOf(job.jobId)].some((e) => isPending(e.status))) return;
    const now = this.scope.now();
    job.status = 'COMPLETED';
    job.lastUpdatedAt = now;
    job.completedAt = now;
    this.jobEvent(job, 'completed');
  }
}

/** A refusal of the Jobs MQTT API: its code (jobs-mqtt.ts answers it on `/rejected`), and the execution's state where AWS sends it. */
export class JobsRejection extends Error {
  constructor(
    readonly code: 'InvalidTopic' | 'InvalidJson' | 'InvalidRequest' | 'InvalidStateTransition' | 'ResourceNotFound' | 'VersionMismatch' | 'InternalError' | 'RequestThrottled' | 'TerminalStateReached',
    message: string,
    readonly execution?: JobExecution,
  ) {
    super(message);
    this.name = code;
  }
}

function pickConfiguration(c: JobConfiguration): JobConfiguration {
  return definedOnly({
    description: c.description,
    document: c.document,
    documentSource: c.documentSource,
    jobExecutionsRolloutConfig: c.jobExecutionsRolloutConfig,
    abortConfig: c.abortConfig,
    timeoutConfig: c.timeoutConfig,
  });
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** The ranges of the model's shapes (MaximumPerMinute 1-1000, IncrementFactor 1.1-5, AbortThresholdPercentage ≤100, InProgressTimeoutInMinutes ≤10080). */
function validateConfiguration(c: JobConfiguration, what: 'job' | 'template'): void {
  if (c.document === undefined && c.documentSource === undefined) throw invalid(`A ${what} needs a document or a documentSource.`);
  if (c.document !== undefined) {
    if (typeof c.document !== 'string' || Buffer.byteLength(c.document) > MAX_DOCUMENT) throw invalid('document must be a string of at most 32768 bytes.');
    try {
      JSON.parse(c.document);
    } catch {
      throw invalid('document must be a JSON document.');
    }
  }
  const rollout = c.jobExecutionsRolloutConfig;
  if (rollout) {
    if (rollout.maximumPerMinute !== undefined && !isInt(rollout.maximumPerMinute, 1, 1000)) throw invalid('maximumPerMinute must be 1-1000.');
    const rate = rollout.exponentialRate;
    if (rate) {
      if (!isInt(rate.baseRatePerMinute, 1, 1000)) throw invalid('baseRatePerMinute must be 1-1000.');
      if (typeof rate.incrementFactor !== 'number' || rate.incrementFactor < 1.1 || rate.incrementFactor > 5) throw invalid('incrementFactor must be 1.1-5.');
      const criteria = rate.rateIncreaseCriteria as { numberOfNotifiedThings?: unknown; numberOfSucceededThings?: unknown } | undefined;
      const notified = criteria?.numberOfNotifiedThings;
      const succeeded = criteria?.numberOfSucceededThings;
      if (!criteria || (notified === undefined) === (succeeded === undefined)) throw invalid('rateIncreaseCriteria needs numberOfNotifiedThings or numberOfSucceededThings (one of them).');
      if ((notified !== undefined && !isInt(notified, 1, Number.MAX_SAFE_INTEGER)) || (succeeded !== undefined && !isInt(succeeded, 1, Number.MAX_SAFE_INTEGER))) {
        throw invalid('rateIncreaseCriteria counts must be positive integers.');
      }
    }
  }
  if (c.abortConfig) {
    const list = c.abortConfig.criteriaList as unknown;
    if (!Array.isArray(list) || list.length === 0) throw invalid('abortConfig.criteriaList needs at least one criterion.');
    for (const criterion of list as AbortCriteria[]) {
      if (!['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'].includes(criterion.failureType)) throw invalid('failureType must be FAILED, REJECTED, TIMED_OUT or ALL.');
      if (criterion.action !== 'CANCEL') throw invalid('action must be CANCEL.');
      if (typeof criterion.thresholdPercentage !== 'number' || criterion.thresholdPercentage < 0 || criterion.thresholdPercentage > 100) throw invalid('thresholdPercentage must be 0-100.');
      if (!isInt(criterion.minNumberOfExecutedThings, 1, Number.MAX_SAFE_INTEGER)) throw invalid('minNumberOfExecutedThings must be a positive integer.');
    }
  }
  const timeout = c.timeoutConfig?.inProgressTimeoutInMinutes;
  if (timeout !== undefined && !isInt(timeout, 1, 10_080)) throw invalid('inProgressTimeoutInMinutes must be 1-10080.');
}

/** statusDetails: at most 10 name/value pairs of strings (the Jobs API's DetailsMap; keys [a-zA-Z0-9:_-]{1,128}, values ≤1024). */
function validateStatusDetails(value: unknown, fail: (message: string) => Error): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw fail('statusDetails must be an object of strings.');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 10) throw fail('statusDetails holds at most 10 name/value pairs.');
  for (const [k, v] of entries) {
    if (!/^[a-zA-Z0-9:_-]{1,128}$/.test(k) || typeof v !== 'string' || v.length < 1 || v.length > 1024) throw fail(`statusDetails.${k} must be a string of 1-1024 characters under a name of [a-zA-Z0-9:_-].`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** stepTimeoutInMinutes: 1-10080, or -1 to clear the step timer (the Jobs API's UpdateJobExecution). */
function validateStepTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (value === -1 || isInt(value, 1, 10_080)) return value;
  throw new JobsRejection('InvalidRequest', 'stepTimeoutInMinutes must be 1-10080, or -1.');
}
