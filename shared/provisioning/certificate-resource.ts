import type { CustomResourceResponse, DeliveryOptions } from '../cloudformation/respond';
import {
  answerableRequestSchema,
  customResourceRequestSchema,
  deviceCertificatePropertiesSchema,
  type AnswerableRequest,
  type CustomResourceRequest,
  type DeviceCertificateProperties,
} from '../schemas/cloudformation-event';
import type { CertificateStore, IotDirectory, Log } from './ports';

/**
 * `Custom::DeviceCertificate`, the CloudFormation custom resource of seed 002 done with care:
 *
 * - Create: a key pair and certificate from AWS IoT, the certificate and both keys into the private
 *   certificate bucket under `<ThingName>/`, the account's data endpoint; the certificate is activated last,
 *   once its key is stored. The physical id is the certificate id; `Fn::GetAtt` reads the Data below. The
 *   same request run again (Lambda's retry after a crash) carries on with the certificate it made.
 * - Update: the same ThingName keeps the certificate (same physical id, Data computed again); another
 *   ThingName, or a certificate that no longer exists, is a replacement: a new certificate and a new
 *   physical id, after which CloudFormation sends a Delete for the old one.
 * - Delete: the certificate's objects, its things and policies, INACTIVE, deleted. What is already gone
 *   counts as deleted, and a physical id that is no certificate id (the placeholder of a Create that
 *   failed early) is deleted without touching anything. First it marks the certificate deleted for the
 *   request that made it: if that request's answer went out and its Lambda then crashed, Lambda's retry can
 *   come after the Delete, and it must not mint a certificate nobody will ever delete.
 *
 * CloudFormation waits for an answer until the resource's ServiceTimeout (an hour by default), so every
 * request is answered: on success, on any error (with a reason that carries no internals), and when the
 * Lambda limit comes near (the work races the remaining time minus a safety margin).
 */

/** The attributes `Fn::GetAtt` can read from the resource. */
export const DEVICE_CERTIFICATE_ATTRIBUTES = ['CertificateArn', 'CertificateId', 'IoTEndpoint', 'Bucket', 'KeyPrefix'] as const;
export type DeviceCertificateData = Record<(typeof DEVICE_CERTIFICATE_ATTRIBUTES)[number], string>;

export interface CertificateResourceSettings {
  /** Time kept back from the Lambda limit to answer in (the PUT and its retries). */
  safetyMarginMs: number;
  /** DeleteCertificate attempts while a detached thing is still attached (detaching is asynchronous). */
  deleteAttempts: number;
  deleteBackoffMs: number;
}

export const DEFAULT_CERTIFICATE_RESOURCE_SETTINGS: CertificateResourceSettings = {
  safetyMarginMs: 5_000,
  deleteAttempts: 6,
  deleteBackoffMs: 1_000,
};

export interface CertificateResourceDeps {
  iot: Pick<
    IotDirectory,
    | 'createKeysAndCertificate'
    | 'describeCertificate'
    | 'updateCertificateStatus'
    | 'listPrincipalThings'
    | 'detachThingPrincipal'
    | 'listAttachedPolicies'
    | 'detachPolicy'
    | 'deleteCertificate'
  >;
  store: CertificateStore;
  /** The account's `iot:Data-ATS` endpoint. */
  dataEndpoint: () => Promise<string>;
  /** Sends the answer to the ResponseURL (`shared/cloudformation/respond.ts`). */
  respond: (responseUrl: string, response: CustomResourceResponse, options: DeliveryOptions) => Promise<unknown>;
  sleep: (ms: number) => Promise<void>;
  settings: CertificateResourceSettings;
  log: Log;
}

/** The part of the Lambda context the workflow uses. */
export interface LambdaClock {
  getRemainingTimeInMillis(): number;
  logStreamName?: string;
}

export class InvalidPropertiesError extends Error {
  override name = 'InvalidPropertiesError';
}

/** The work was abandoned because its answer has been sent already (timeout). */
class AbandonedError extends Error {
  override name = 'AbandonedError';
}

type Step =
  | 'reading-properties'
  | 'finding-earlier-attempt'
  | 'creating-certificate'
  | 'storing-keys'
  | 'looking-up-endpoint'
  | 'activating-certificate'
  | 'describing-certificate'
  | 'marking-deleted'
  | 'removing-objects'
  | 'deactivating-certificate'
  | 'detaching-certificate'
  | 'deleting-certificate';

/** What the work has done so far: what a timeout or failure answer needs to know. */
interface Progress {
  step: Step;
  /** A certificate this request created (Create, or an Update that replaces). */
  created?: { certificateId: string; thingName: string };
  signal: AbortSignal;
}

interface Done {
  physicalResourceId: string;
  data?: DeviceCertificateData;
}

const CERTIFICATE_ID = /^[a-fA-F0-9]{64}$/;

/** A Create that failed before a certificate existed answers with this id; its Delete is a no-op. */
const placeholderFor = (request: { RequestId: string }) => `not-created:${request.RequestId}`.slice(0, 1024);

const PEM_BLOCK = /-----BEGIN [^-]+-----[\s\S]*?(-----END [^-]+-----|$)/g;

/** What may be logged of an error: its name, HTTP status, and message with any PEM block cut out. */
function loggable(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { name: error.name, message: error.message.replace(PEM_BLOCK, '[PEM redacted]'), ...(status ? { httpStatusCode: status } : {}) };
}

/** An error's name is safe to show in the stack's events when it looks like an exception class name. */
const safeName = (error: unknown) => (error instanceof Error && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(error.name) ? error.name : 'Error');

function issuesOf(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message)).join('; ');
}

function readProperties(properties: unknown): DeviceCertificateProperties {
  const parsed = deviceCertificatePropertiesSchema.safeParse(properties);
  if (!parsed.success) throw new InvalidPropertiesError(`invalid properties: ${issuesOf(parsed.error)}`);
  return parsed.data;
}

function checkpoint(progress: Progress, step: Step): void {
  if (progress.signal.aborted) throw new AbandonedError(`abandoned before ${step}`);
  progress.step = step;
}

async function create(thingName: string, requestId: string, deps: CertificateResourceDeps, progress: Progress): Promise<Done> {
  const earlier = await earlierAttempt(thingName, requestId, deps, progress);
  if (earlier) return earlier;
  checkpoint(progress, 'creating-certificate');
  const issued = await deps.iot.createKeysAndCertificate();
  progress.created = { certificateId: issued.certificateId, thingName };
  checkpoint(progress, 'storing-keys');
  await deps.store.put(
    thingName,
    { certificateId: issued.certificateId, certificatePem: issued.certificatePem, publicKey: issued.publicKey, privateKey: issued.privateKey },
    requestId,
  );
  return finish(issued.certificateId, issued.certificateArn, 'INACTIVE', thingName, deps, progress);
}

async function finish(certificateId: string, certificateArn: string, status: string, thingName: string, deps: CertificateResourceDeps, progress: Progress): Promise<Done> {
  checkpoint(progress, 'looking-up-endpoint');
  const endpoint = await deps.dataEndpoint();
  // Last: a certificate whose key never reached the bucket is never active (style §8).
  if (status !== 'ACTIVE') {
    checkpoint(progress, 'activating-certificate');
    await deps.iot.updateCertificateStatus(certificateId, 'ACTIVE');
  }
  deps.log.info('device certificate created', { certificateId, thingName });
  return { physicalResourceId: certificateId, data: dataOf(certificateId, certificateArn, thingName, endpoint, deps.store) };
}

/**
 * CloudFormation invokes the function asynchronously, so after a crash Lambda runs the same request again —
 * possibly after its answer went out. The objects an earlier attempt of this request stored name its
 * certificate: with all three in place the retry carries on with that certificate (the one CloudFormation
 * may already hold, whose key the bucket has), instead of minting a second one and overwriting the keys
 * of the first. An attempt that died while storing them leaves a certificate whose key may be lost: it
 * goes, with its objects, and the retry starts afresh.
 */
async function earlierAttempt(thingName: string, requestId: string, deps: CertificateResourceDeps, progress: Progress): Promise<Done | undefined> {
  checkpoint(progress, 'finding-earlier-attempt');
  const objects = (await deps.store.inspect(thingName)).filter((object) => object.requestId === requestId && object.certificateId);
  const certificateId = objects[0]?.certificateId;
  if (!certificateId) {
    // Answered, and then deleted by CloudFormation (a rollback, or the stack's deletion) before this retry:
    // the resource is gone, and a new certificate would be nobody's. CloudFormation ignores this answer.
    const deleted = await deps.store.deletedFor(thingName, requestId);
    if (!deleted) return undefined;
    deps.log.warn('the certificate this request made has been deleted since; nothing to create', { certificateId: deleted, thingName });
    return { physicalResourceId: deleted };
  }
  checkpoint(progress, 'describing-certificate');
  const record = await deps.iot.describeCertificate(certificateId);
  const stored = new Set(objects.filter((object) => object.certificateId === certificateId).map((object) => object.part));
  const complete = stored.has('certificatePem') && stored.has('publicKey') && stored.has('privateKey');
  if (record && complete && (record.status === 'ACTIVE' || record.status === 'INACTIVE')) {
    deps.log.info('carrying on with the certificate of an earlier attempt', { certificateId, thingName });
    progress.created = { certificateId, thingName };
    return finish(certificateId, record.certificateArn, record.status, thingName, deps, progress);
  }
  deps.log.warn('an earlier attempt left an incomplete certificate; removing it', { certificateId, thingName, status: record?.status });
  await removeCertificate(certificateId, thingName, deps, progress);
  return undefined;
}

function dataOf(certificateId: string, certificateArn: string, thingName: string, endpoint: string, store: CertificateStore): DeviceCertificateData {
  const { bucket, prefix } = store.locationOf(thingName);
  return { CertificateArn: certificateArn, CertificateId: certificateId, IoTEndpoint: endpoint, Bucket: bucket, KeyPrefix: prefix };
}

async function update(request: Extract<CustomResourceRequest, { RequestType: 'Update' }>, deps: CertificateResourceDeps, progress: Progress): Promise<Done> {
  const { ThingName: thingName } = readProperties(request.ResourceProperties);
  const previous = deviceCertificatePropertiesSchema.safeParse(request.OldResourceProperties);
  const certificateId = request.PhysicalResourceId;
  if (!CERTIFICATE_ID.test(certificateId) || !previous.success || previous.data.ThingName !== thingName) {
    deps.log.info('replacing the device certificate', { previousPhysicalResourceId: certificateId, thingName });
    return create(thingName, request.RequestId, deps, progress);
  }
  checkpoint(progress, 'describing-certificate');
  const record = await deps.iot.describeCertificate(certificateId);
  if (!record) {
    // Deleted outside CloudFormation: a new certificate is the only way to keep the promise of the resource.
    deps.log.warn('the certificate no longer exists; replacing it', { certificateId, thingName });
    return create(thingName, request.RequestId, deps, progress);
  }
  checkpoint(progress, 'looking-up-endpoint');
  const endpoint = await deps.dataEndpoint();
  return { physicalResourceId: certificateId, data: dataOf(certificateId, record.certificateArn, thingName, endpoint, deps.store) };
}

/** Removes a certificate and its objects; every step tolerates finding its work done. */
async function removeCertificate(certificateId: string, thingName: string | undefined, deps: CertificateResourceDeps, progress: Progress): Promise<void> {
  if (thingName) {
    checkpoint(progress, 'removing-objects');
    const { removed, kept } = await deps.store.remove(thingName, certificateId);
    if (kept) deps.log.info('objects of another certificate left in place', { certificateId, thingName, kept });
    deps.log.info('certificate objects removed', { certificateId, thingName, removed });
  }
  checkpoint(progress, 'describing-certificate');
  const record = await deps.iot.describeCertificate(certificateId);
  if (!record) {
    deps.log.info('certificate already deleted', { certificateId });
    return;
  }
  // First: from here on no device connects with it, whatever else fails.
  if (record.status === 'ACTIVE') {
    checkpoint(progress, 'deactivating-certificate');
    await deps.iot.updateCertificateStatus(certificateId, 'INACTIVE');
  }
  checkpoint(progress, 'detaching-certificate');
  for (const thing of await deps.iot.listPrincipalThings(record.certificateArn)) await deps.iot.detachThingPrincipal(thing, record.certificateArn);
  for (const policy of await deps.iot.listAttachedPolicies(record.certificateArn)) await deps.iot.detachPolicy(policy, record.certificateArn);
  const { deleteAttempts, deleteBackoffMs } = deps.settings;
  for (let attempt = 1; ; attempt++) {
    checkpoint(progress, 'deleting-certificate');
    const outcome = await deps.iot.deleteCertificate(certificateId);
    if (outcome !== 'things-attached') break;
    if (attempt >= deleteAttempts) throw new Error(`a thing is still attached to ${certificateId} after ${attempt} attempts`);
    await deps.sleep(Math.min(deleteBackoffMs * 2 ** (attempt - 1), 8_000));
  }
  deps.log.info('certificate deleted', { certificateId });
}

async function remove(request: Extract<CustomResourceRequest, { RequestType: 'Delete' }>, deps: CertificateResourceDeps, progress: Progress): Promise<Done> {
  const physicalResourceId = request.PhysicalResourceId;
  if (!CERTIFICATE_ID.test(physicalResourceId)) {
    deps.log.info('no certificate was created for this resource; nothing to delete', { physicalResourceId });
    return { physicalResourceId };
  }
  const properties = deviceCertificatePropertiesSchema.safeParse(request.ResourceProperties);
  if (!properties.success) deps.log.warn('properties unreadable: the certificate is deleted, its objects are left', { physicalResourceId });
  else {
    checkpoint(progress, 'marking-deleted');
    await deps.store.markDeleted(properties.data.ThingName, physicalResourceId.toLowerCase());
  }
  await removeCertificate(physicalResourceId.toLowerCase(), properties.success ? properties.data.ThingName : undefined, deps, progress);
  return { physicalResourceId };
}

async function perform(request: CustomResourceRequest, deps: CertificateResourceDeps, progress: Progress): Promise<Done> {
  switch (request.RequestType) {
    case 'Create':
      return create(readProperties(request.ResourceProperties).ThingName, request.RequestId, deps, progress);
    case 'Update':
      return update(request, deps, progress);
    case 'Delete':
      return remove(request, deps, progress);
  }
}

type Race<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'timed-out' };

async function within<T>(work: Promise<T>, budgetMs: number): Promise<Race<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Race<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timed-out' }), Math.max(0, budgetMs));
  });
  try {
    return await Promise.race([
      work.then(
        (value): Race<T> => ({ kind: 'done', value }),
        (error: unknown): Race<T> => ({ kind: 'failed', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const echo = (request: AnswerableRequest | CustomResourceRequest) => ({
  StackId: request.StackId,
  RequestId: request.RequestId,
  LogicalResourceId: request.LogicalResourceId,
});

async function answer(url: string, response: CustomResourceResponse, deadline: number, deps: CertificateResourceDeps): Promise<CustomResourceResponse> {
  const summary = { status: response.Status, physicalResourceId: response.PhysicalResourceId, ...(response.Reason ? { reason: response.Reason } : {}) };
  try {
    await deps.respond(url, response, { deadline });
    deps.log.info('answered CloudFormation', summary);
  } catch (error) {
    deps.log.error('could not answer CloudFormation; the stack waits until the resource’s ServiceTimeout', { ...summary, error: loggable(error) });
  }
  return response;
}

/**
 * Handles one custom-resource request and answers it. Resolves with the answer (also when it could not be
 * delivered), or `undefined` for an event that names no ResponseURL to answer. Never rejects: a rejection
 * would make Lambda run the request again.
 */
export async function handleCertificateResourceRequest(
  event: unknown,
  lambda: LambdaClock,
  deps: CertificateResourceDeps,
): Promise<CustomResourceResponse | undefined> {
  const remainingMs = lambda.getRemainingTimeInMillis();
  // Answers are sent up to shortly before the Lambda limit.
  const deadline = Date.now() + remainingMs - 250;
  const details = lambda.logStreamName ? `details in CloudWatch Logs, log stream ${lambda.logStreamName}` : 'details in the function’s logs';

  const parsed = customResourceRequestSchema.safeParse(event);
  if (!parsed.success) {
    const answerable = answerableRequestSchema.safeParse(event);
    const issues = issuesOf(parsed.error);
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
  const abandon = new AbortController();
  const progress: Progress = { step: 'reading-properties', signal: abandon.signal };
  const outcome = await within(perform(request, deps, progress), remainingMs - deps.settings.safetyMarginMs);

  if (outcome.kind === 'done') {
    const { physicalResourceId, data } = outcome.value;
    return answer(request.ResponseURL, { Status: 'SUCCESS', PhysicalResourceId: physicalResourceId, ...(data ? { Data: data } : {}), ...echo(request) }, deadline, deps);
  }

  // What the answer says the resource is: a failed Update or Delete keeps its id; a failed Create is the
  // certificate it created, so that CloudFormation's Delete during rollback removes it.
  const physicalResourceId =
    request.RequestType === 'Create' ? (progress.created?.certificateId ?? placeholderFor(request)) : request.PhysicalResourceId;
  let reason: string;
  if (outcome.kind === 'timed-out') {
    abandon.abort();
    reason = `${request.RequestType} timed out while ${progress.step} (answered ${Math.round(deps.settings.safetyMarginMs / 1000)} s before the Lambda limit); ${details}`;
    deps.log.error('custom-resource request timed out', { ...about, step: progress.step });
  } else if (outcome.error instanceof InvalidPropertiesError) {
    reason = outcome.error.message;
    deps.log.error('invalid properties', { ...about, reason });
  } else {
    reason = `${request.RequestType} failed while ${progress.step} (${safeName(outcome.error)}); ${details}`;
    deps.log.error('custom-resource request failed', { ...about, step: progress.step, error: loggable(outcome.error) });
  }
  const response = await answer(request.ResponseURL, { Status: 'FAILED', Reason: reason, PhysicalResourceId: physicalResourceId, ...echo(request) }, deadline, deps);

  // A replacement that failed leaves the resource on its old certificate: the new one is nobody's. After a
  // timeout the abandoned work may still be in flight, so it is only reported then.
  if (request.RequestType === 'Update' && progress.created) {
    if (outcome.kind === 'failed') await discard(progress.created, deadline, deps);
    else deps.log.warn('the certificate of a timed-out replacement is left over; delete it and its objects', { ...progress.created });
  }
  return response;
}

/** Best effort, within what is left of the Lambda limit; what remains is logged for an operator. */
async function discard(created: { certificateId: string; thingName: string }, deadline: number, deps: CertificateResourceDeps): Promise<void> {
  const cleanup = new AbortController();
  const progress: Progress = { step: 'removing-objects', signal: cleanup.signal };
  const outcome = await within(removeCertificate(created.certificateId, created.thingName, deps, progress), deadline - Date.now() - 250);
  if (outcome.kind !== 'done') {
    cleanup.abort();
    deps.log.warn('the certificate of a failed replacement is left over; delete it and its objects', {
      ...created,
      step: progress.step,
      ...(outcome.kind === 'failed' ? { error: loggable(outcome.error) } : {}),
    });
  }
}
