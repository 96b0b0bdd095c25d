import type { ImportSummary } from '../../shared/registry/import-devices';
import { BAD_REQUEST, userActor, type ConsoleRequest, routeOperatorRequest, type ConsoleRoutes } from '../../shared/http/console';
import { jsonBodyOf } from '../../shared/http/request';
import { jsonResponse, refusal, type HttpApiResult } from '../../shared/http/response';
import { ConcurrentChangeError, resumeDevice, retireDevice, suspendDevice, type LifecycleDeps } from '../../shared/lifecycle/actions';
import type { Actor, TimelineEvent } from '../../shared/lifecycle/ports';
import { allowInRegistry, blockInRegistry, RetirementUnfinishedError, type RegistryDecisionPort } from '../../shared/lifecycle/registry-actions';
import { stateOf, TransitionRefusedError } from '../../shared/lifecycle/states';
import type { Log } from '../../shared/log';
import { deviceIdSchema, type DeviceEntry } from '../../shared/registry/device-entry';
import { ImportFileError, readImportRows, type ImportFormat, type ImportRow } from '../../shared/registry/import-rows';
import { deviceActionSchema, IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, type DeviceAction } from '../../shared/schemas/console-request';
import { issuesOf } from '../../shared/schemas/issues';

/**
 * The console's write routes (operators only): `POST /devices/{deviceId}/actions` runs one lifecycle or
 * registry action — the workflows the CLI runs (shared/lifecycle/), idempotent, each recorded on the
 * device's timeline with the signed-in user — and `POST /devices/import` imports a factory file as
 * `devices import` does (every row checked before anything is written; invalid rows never written).
 */

export interface ConsoleActionsDeps {
  /** The lifecycle workflows' ports, without the actor (the caller of each request is). */
  lifecycle: Omit<LifecycleDeps, 'actor'>;
  registry: RegistryDecisionPort;
  importRows(rows: readonly ImportRow[]): Promise<ImportSummary>;
  appendEvents(events: readonly TimelineEvent[]): Promise<void>;
  log: Pick<Log, 'error' | 'info'>;
}

/** The 409 of an action the device's lifecycle does not allow now. */
function conflict(reason: string, message: string, extra: Record<string, unknown> = {}): HttpApiResult {
  return jsonResponse(409, { message, reason, ...extra });
}

async function runAction(deviceId: string, action: DeviceAction, actor: Actor, deps: ConsoleActionsDeps): Promise<{ outcome: 'done' | 'unchanged'; entry: DeviceEntry | undefined }> {
  const lifecycle: LifecycleDeps = { ...deps.lifecycle, actor };
  const decisions = { registry: deps.registry, timeline: deps.lifecycle.timeline, actor, now: deps.lifecycle.now };
  switch (action.action) {
    case 'suspend':
      return suspendDevice(deviceId, lifecycle);
    case 'resume':
      return resumeDevice(deviceId, lifecycle);
    case 'retire':
      return retireDevice(deviceId, { keepThing: action.keepThing === true }, lifecycle);
    case 'block':
      return { outcome: 'done', entry: await blockInRegistry(deviceId, decisions) };
    case 'allow': {
      const options = {
        ...(action.thingGroup ? { thingGroup: action.thingGroup } : {}),
        ...(action.thingType ? { thingType: action.thingType } : {}),
        ...(action.attributes && Object.keys(action.attributes).length ? { attributes: action.attributes } : {}),
      };
      return { outcome: 'done', entry: await allowInRegistry(deviceId, options, decisions) };
    }
    case 'reprovision': {
      // `devices allow --reprovision` with the profile the entry already has (allow declares the whole profile).
      const entry = await deps.registry.get(deviceId);
      const options = {
        ...(entry?.thingGroup ? { thingGroup: entry.thingGroup } : {}),
        ...(entry?.thingType ? { thingType: entry.thingType } : {}),
        ...(entry?.attributes ? { attributes: entry.attributes } : {}),
        reprovision: true,
      };
      return { outcome: 'done', entry: await allowInRegistry(deviceId, options, decisions) };
    }
  }
}

async function deviceAction(request: ConsoleRequest, deps: ConsoleActionsDeps): Promise<HttpApiResult> {
  const id = deviceIdSchema.safeParse(request.event.pathParameters?.deviceId ?? '');
  if (!id.success) return refusal(400, BAD_REQUEST, 'device-id-invalid', issuesOf(id.error).map((i) => ({ ...i, path: 'deviceId' })));
  const body = jsonBodyOf(request.event);
  if (body.kind !== 'json' || !body.value || typeof body.value !== 'object' || Array.isArray(body.value)) {
    return refusal(400, BAD_REQUEST, 'body-invalid', [{ path: '', message: 'the body must be a JSON object: {"action": "suspend"}' }]);
  }
  const parsed = deviceActionSchema.safeParse(body.value);
  if (!parsed.success) return refusal(400, BAD_REQUEST, 'request-invalid', issuesOf(parsed.error, { unknownKeysApart: true }));
  const action = parsed.data;
  const deviceId = id.data;
  const actor = userActor(request.caller);
  try {
    const { outcome, entry } = await runAction(deviceId, action, actor, deps);
    deps.log.info('console action', { deviceId, action: action.action, outcome, actor: actor.id });
    return jsonResponse(200, { deviceId, action: action.action, outcome, state: stateOf(entry), entry: entry ?? null });
  } catch (error) {
    if (error instanceof TransitionRefusedError) return conflict('transition-refused', error.message, { action: error.action, state: error.from });
    if (error instanceof RetirementUnfinishedError) return conflict('retirement-unfinished', error.message, { action: action.action, state: 'retired' });
    if (error instanceof ConcurrentChangeError) return conflict('concurrent-change', error.message, { action: action.action });
    if ((error as Error).name === 'LifecycleConflictError') return conflict('lifecycle-conflict', (error as Error).message, { action: action.action });
    throw error;
  }
}

/** The import's format from its content type (`text/csv`, `application/x-ndjson`; parameters ignored). */
function formatOf(contentType: string | undefined): ImportFormat | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/ndjson') return 'ndjson';
  return undefined;
}

async function importDevices(request: ConsoleRequest, deps: ConsoleActionsDeps): Promise<HttpApiResult> {
  const format = formatOf(request.event.headers?.['content-type']);
  if (!format) return refusal(415, 'Unsupported media type', 'content-type-invalid', [{ path: 'content-type', message: 'must be text/csv or application/x-ndjson' }]);
  const raw = request.event.body ?? '';
  const bytes = request.event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length === 0) return refusal(400, BAD_REQUEST, 'body-invalid', [{ path: '', message: 'the body is the file: a CSV with a header row, or NDJSON' }]);
  if (bytes.length > IMPORT_MAX_BYTES) return refusal(413, 'Payload too large', 'file-too-large', [{ path: '', message: `at most ${IMPORT_MAX_BYTES} bytes a request: split the file` }]);
  let checked: { rows: ImportRow[]; invalid: Array<{ line: number; message: string }> };
  try {
    checked = readImportRows(bytes.toString('utf8'), format);
  } catch (error) {
    if (error instanceof ImportFileError) return refusal(400, BAD_REQUEST, 'file-invalid', [{ path: '', message: error.message }]);
    throw error;
  }
  if (checked.rows.length + checked.invalid.length > IMPORT_MAX_ROWS) {
    return refusal(413, 'Payload too large', 'too-many-rows', [{ path: '', message: `at most ${IMPORT_MAX_ROWS} rows a request: split the file` }]);
  }
  const summary = await deps.importRows(checked.rows);
  // The devices the import allowed or changed, on their timelines with the user (unchanged rows wrote nothing).
  const actor = userActor(request.caller);
  const at = deps.lifecycle.now();
  await deps.appendEvents(
    [...summary.imported, ...summary.updated].map((deviceId) => ({ deviceId, at, type: 'allowed' as const, actor, detail: 'import', key: 'import' })),
  );
  deps.log.info('console import', { format, rows: checked.rows.length, invalid: checked.invalid.length, imported: summary.imported.length, actor: actor.id });
  return jsonResponse(200, {
    complete: checked.invalid.length === 0 && summary.failed.length === 0,
    imported: summary.imported.length,
    updated: summary.updated.length,
    unchanged: summary.unchanged.length,
    invalid: checked.invalid,
    // Valid rows DynamoDB left unprocessed after every retry: send the same file again.
    failed: summary.failed,
    // Existing blocked entries whose profile was updated: they stay blocked.
    stayBlocked: summary.blocked,
    devices: { imported: summary.imported, updated: summary.updated, unchanged: summary.unchanged },
  });
}

const ROUTES: ConsoleRoutes<ConsoleActionsDeps> = {
  'POST /devices/{deviceId}/actions': deviceAction,
  'POST /devices/import': importDevices,
};

export const handleConsoleAction = (event: unknown, deps: ConsoleActionsDeps): Promise<HttpApiResult> => routeOperatorRequest(event, ROUTES, deps, 'console action failed');
