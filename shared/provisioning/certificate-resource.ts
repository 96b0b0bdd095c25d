import {
  checkpoint,
  loggableError,
  readProperties,
  runUntil,
  type CustomResource,
  type Done,
  type Failure,
  type Progress,
} from '../cloudformation/custom-resource';
import {
  deviceCertificatePropertiesSchema,
  type CreateRequest,
  type DeleteRequest,
  type UpdateRequest,
} from '../schemas/cloudformation-event';
import type { Log } from '../log';
import type { CertificateStore } from './certificate-store-port';
import type { IotDirectory } from './iot-ports';

/**
 * `Custom::DeviceCertificate`, the CloudFormation custom resource of seed 002 done with care. This is its
 * work; answering CloudFormation (always, before the Lambda limit, within 4,096 bytes, redacted) is the
 * protocol's, `shared/cloudformation/custom-resource.ts`.
 *
 * - Create: a key pair and certificate from AWS IoT, the certificate and both keys into the private
 *   certificate bucket under `<ThingName>/`, the account's data endpoint; the certificate is activated last,
 *   once its key is stored. The physical id is the certificate id; `Fn::GetAtt` reads the Data below. The
 *   same request run again (Lambda's retry after a crash) carries on with the certificate it made.
 * - Update: the same ThingName keeps the certificate (same physical id, Data computed again); another
 *   ThingName, or a certificate that no longer exists, is a replacement: a new certificate and a new
 *   physical id, after which CloudFormation sends a Delete for the old one. A replacement that fails has
 *   its new certificate removed after the answer.
 * - Delete: the certificate's objects, its things and policies, INACTIVE, deleted. What is already gone
 *   counts as deleted, and a physical id that is no certificate id (the placeholder of a Create that
 *   failed early) is deleted without touching anything. First it marks the certificate deleted for the
 *   request that made it: if that request's answer went out and its Lambda then crashed, Lambda's retry can
 *   come after the Delete, and it must not mint a certificate nobody will ever delete.
 */

/** The attributes `Fn::GetAtt` can read from the resource. */
export const DEVICE_CERTIFICATE_ATTRIBUTES = ['CertificateArn', 'CertificateId', 'IoTEndpoint', 'Bucket', 'KeyPrefix'] as const;
export type DeviceCertificateData = Record<(typeof DEVICE_CERTIFICATE_ATTRIBUTES)[number], string>;

export interface CertificateResourceSettings {
  /** DeleteCertificate attempts while a detached thing is still attached (detaching is asynchronous). */
  deleteAttempts: number;
  deleteBackoffMs: number;
}

export const DEFAULT_CERTIFICATE_RESOURCE_SETTINGS: CertificateResourceSettings = {
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
  sleep: (ms: number) => Promise<void>;
  settings: CertificateResourceSettings;
  log: Log;
}

/** The steps a Reason names (`Create failed while storing-keys (AccessDenied)`). */
export type CertificateStep =
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

/** A certificate this request created (Create, or an Update that replaces): its id is the physical id. */
interface CreatedCertificate {
  physicalResourceId: string;
  thingName: string;
}

type CertificateProgress = Progress<CertificateStep, CreatedCertificate>;

const CERTIFICATE_ID = /^[a-fA-F0-9]{64}$/;

async function create(thingName: string, requestId: string, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<Done> {
  const earlier = await earlierAttempt(thingName, requestId, deps, progress);
  if (earlier) return earlier;
  checkpoint(progress, 'creating-certificate');
  const issued = await deps.iot.createKeysAndCertificate();
  progress.created = { physicalResourceId: issued.certificateId, thingName };
  checkpoint(progress, 'storing-keys');
  await deps.store.put(
    thingName,
    { certificateId: issued.certificateId, certificatePem: issued.certificatePem, publicKey: issued.publicKey, privateKey: issued.privateKey },
    requestId,
  );
  return finish(issued.certificateId, issued.certificateArn, 'INACTIVE', thingName, deps, progress);
}

async function finish(certificateId: string, certificateArn: string, status: string, thingName: string, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<Done> {
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
async function earlierAttempt(thingName: string, requestId: string, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<Done | undefined> {
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
    progress.created = { physicalResourceId: certificateId, thingName };
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

async function update(request: UpdateRequest, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<Done> {
  const { ThingName: thingName } = readProperties(deviceCertificatePropertiesSchema, request.ResourceProperties);
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
async function removeCertificate(certificateId: string, thingName: string | undefined, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<void> {
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

async function remove(request: DeleteRequest, deps: CertificateResourceDeps, progress: CertificateProgress): Promise<Done> {
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

/**
 * A replacement that failed leaves the resource on its old certificate: the new one is nobody's. After a
 * timeout the abandoned work may still be in flight, so it is only reported then.
 */
async function afterFailedAnswer({ request, outcome, progress, until }: Failure<CertificateStep, CreatedCertificate>, deps: CertificateResourceDeps): Promise<void> {
  if (request.RequestType !== 'Update' || !progress.created) return;
  const created = { certificateId: progress.created.physicalResourceId, thingName: progress.created.thingName };
  if (outcome.kind === 'failed') await discard(created, until, deps);
  else deps.log.warn('the certificate of a timed-out replacement is left over; delete it and its objects', { ...created });
}

/** Best effort, until `until`; what remains is logged for an operator. */
async function discard(created: { certificateId: string; thingName: string }, until: number, deps: CertificateResourceDeps): Promise<void> {
  const { outcome, progress } = await runUntil<void, CertificateStep, CreatedCertificate>(
    'removing-objects',
    (cleanup) => removeCertificate(created.certificateId, created.thingName, deps, cleanup),
    until,
  );
  if (outcome.kind !== 'done') {
    deps.log.warn('the certificate of a failed replacement is left over; delete it and its objects', {
      ...created,
      step: progress.step,
      ...(outcome.kind === 'failed' ? { error: loggableError(outcome.error) } : {}),
    });
  }
}

/** `Custom::DeviceCertificate` for `handleCustomResourceRequest`. */
export function deviceCertificateResource(deps: CertificateResourceDeps): CustomResource<CertificateStep, CreatedCertificate> {
  return {
    firstStep: 'reading-properties',
    create: (request: CreateRequest, progress) =>
      create(readProperties(deviceCertificatePropertiesSchema, request.ResourceProperties).ThingName, request.RequestId, deps, progress),
    update: (request, progress) => update(request, deps, progress),
    delete: (request, progress) => remove(request, deps, progress),
    afterFailedAnswer: (failure) => afterFailedAnswer(failure, deps),
  };
}
