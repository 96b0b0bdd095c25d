/**
 * The Device Shadow service of the local IoT Core: classic and named shadows per account, with the document
 * semantics AWS documents, transport-free (the HTTP data plane and the MQTT topics both call it).
 *
 * Sources (AWS IoT developer guide):
 * - Documents, delta, versioning, client tokens, empty properties, arrays:
 *   https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html
 * - Errors (codes and messages, clientToken over 64 bytes, nesting "maximum is 6"):
 *   https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html
 * - The 8 KB limit counts desired and reported only, never metadata:
 *   https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-shadows.html
 * - A deleted shadow re-created keeps counting versions (AWS: within 48 hours; here, for the process's life):
 *   https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-data-flow.html
 * - Topics: https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A shadow: a thing's classic (unnamed) shadow, or one of its named shadows. */
export interface ShadowKey {
  thingName: string;
  shadowName?: string;
}

export type ShadowErrorCode = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500;

/** A refused request, as AWS answers it: an HTTP status and one of its documented messages. */
export class ShadowError extends Error {
  constructor(
    readonly code: ShadowErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShadowError';
  }
}

// Quotas: 8 KB of desired + reported per shadow; 6 levels inside desired or reported; client tokens of at
// most 64 bytes; thing names of 128, shadow names of 64 characters (the iot-data service model's patterns).
export const MAX_STATE_BYTES = 8 * 1024;
export const MAX_DEPTH = 6;
const MAX_CLIENT_TOKEN_BYTES = 64;
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[$a-zA-Z0-9:_-]{1,64}$/;

interface StoredShadow {
  desired?: JsonObject;
  reported?: JsonObject;
  metadata: { desired?: JsonObject; reported?: JsonObject };
  version: number;
  exists: boolean;
}

export interface UpdateResult {
  /** The /update/accepted document (and the UpdateThingShadow answer). */
  accepted: JsonObject;
  /** The /update/delta document, when desired and reported differ after the update. */
  delta?: JsonObject;
  /** The /update/documents document: the shadow before and after. */
  documents: JsonObject;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) return Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => k in b && deepEqual(a[k], b[k]));
  return a === b;
}

/** Levels of objects and arrays below `value` (a scalar is 0, `{"a": 1}` is 1). */
function depthOf(value: Json): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

/** Merges `patch` into `target`: objects merge key by key, `null` deletes a key, anything else (arrays too) replaces. */
function merge(target: JsonObject | undefined, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isObject(value)) result[key] = merge(isObject(result[key]) ? (result[key] as JsonObject) : undefined, value);
    else result[key] = structuredClone(value);
  }
  return result;
}

/** A leaf's metadata entry, `{"timestamp": <epoch seconds>}`. */
const isStamp = (value: Json | undefined): boolean => isObject(value) && Object.keys(value).length === 1 && typeof value.timestamp === 'number';

/** The metadata of what `patch` wrote: `{timestamp}` per leaf, arrays element by element (device-shadow-document.html). */
function stamp(patch: Json, timestamp: number): Json {
  if (isObject(patch)) return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, stamp(v, timestamp)]));
  if (Array.isArray(patch)) return patch.map((v) => stamp(v, timestamp));
  return { timestamp };
}

/** Stored metadata updated for `patch`, key for key as `merge` updates the state: null removes the key's metadata. */
function mergeMetadata(target: JsonObject | undefined, patch: JsonObject, timestamp: number): JsonObject {
  const result: JsonObject = { ...(target ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    const stored = result[key];
    if (value === null) delete result[key];
    else if (isObject(value)) result[key] = mergeMetadata(isObject(stored) && !isStamp(stored) ? stored : undefined, value, timestamp);
    else result[key] = stamp(value, timestamp);
  }
  return result;
}

// "If an update causes the desired or reported properties to become null, it is removed": an emptied section
// is dropped (device-shadow-document.html, "Empty shadow document properties"). Nested objects emptied by an
// update stay as `{}` (unsourced).
const nonEmpty = (value: JsonObject | undefined) => (value && Object.keys(value).length ? value : undefined);

/**
 * The delta: every desired value that reported lacks or holds differently, recursing into objects (arrays are
 * values). "It contains all of these attributes, regardless of whether these attributes were contained in the
 * current update message" (device-shadow-mqtt.html, /update/delta).
 */
function deltaOf(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject | undefined {
  if (!desired) return undefined;
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported?.[key];
    if (isObject(want) && isObject(have)) {
      const nested = deltaOf(want, have);
      if (nested) delta[key] = nested;
    } else if (!deepEqual(want, have)) delta[key] = structuredClone(want);
  }
  return Object.keys(delta).length ? delta : undefined;
}

/** The metadata entries of `delta`'s keys, taken from the desired metadata. */
function metadataFor(delta: JsonObject, metadata: JsonObject | undefined): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(delta)) {
    const entry = metadata?.[key];
    if (entry === undefined) continue;
    result[key] = isObject(value) && isObject(entry) && !isStamp(entry) ? metadataFor(value, entry) : entry;
  }
  return result;
}

function parseDocument(payload: Buffer): JsonObject {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    throw new ShadowError(415, 'Unsupported documented encoding; supported encoding is UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ShadowError(400, 'Invalid JSON');
  }
  if (!isObject(parsed)) throw new ShadowError(400, 'Invalid JSON');
  return parsed;
}

function clientTokenOf(document: JsonObject): string | undefined {
  const token = document.clientToken;
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || Buffer.byteLength(token) > MAX_CLIENT_TOKEN_BYTES) throw new ShadowError(400, 'Invalid clientToken');
  return token;
}

/** The clientToken of a get or delete request (an empty payload is allowed); undefined when there is none or it is unreadable. */
export function requestClientToken(payload: Buffer): string | undefined {
  if (!payload.length) return undefined;
  try {
    const token = (JSON.parse(payload.toString('utf8')) as Record<string, unknown>)?.clientToken;
    return typeof token === 'string' ? token : undefined;
  } catch {
    return undefined;
  }
}

export class ShadowService {
  /** accountId → `thing\0shadow` → shadow; state per account, behind the methods below. */
  private readonly accounts = new Map<string, Map<string, StoredShadow>>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** The service clock, in epoch seconds (shadow timestamps are seconds). */
  seconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  private shadows(accountId: string): Map<string, StoredShadow> {
    let shadows = this.accounts.get(accountId);
    if (!shadows) this.accounts.set(accountId, (shadows = new Map()));
    return shadows;
  }

  private static id(key: ShadowKey): string {
    if (!THING_NAME.test(key.thingName)) throw new ShadowError(400, `Invalid thing name: ${key.thingName}`);
    if (key.shadowName !== undefined && !SHADOW_NAME.test(key.shadowName)) throw new ShadowError(400, `Invalid shadow name: ${key.shadowName}`);
    return `${key.thingName}\u0000${key.shadowName ?? ''}`;
  }

  private existing(accountId: string, key: ShadowKey): StoredShadow {
    const shadow = this.shadows(accountId).get(ShadowService.id(key));
    if (!shadow?.exists) throw new ShadowError(404, `No shadow exists with name: '${key.shadowName ?? key.thingName}'`);
    return shadow;
  }

  /** GET: the whole document with its delta and metadata (device-shadow-document.html, /get/accepted). */
  get(accountId: string, key: ShadowKey, clientToken?: string): JsonObject {
    const shadow = this.existing(accountId, key);
    const delta = deltaOf(shadow.desired, shadow.reported);
    return {
      state: {
        ...(shadow.desired ? { desired: structuredClone(shadow.desired) } : {}),
        ...(shadow.reported ? { reported: structuredClone(shadow.reported) } : {}),
        ...(delta ? { delta } : {}),
      },
      metadata: {
        ...(shadow.metadata.desired ? { desired: structuredClone(shadow.metadata.desired) } : {}),
        ...(shadow.metadata.reported ? { reported: structuredClone(shadow.metadata.reported) } : {}),
      },
      version: shadow.version,
      timestamp: this.seconds(),
      ...(clientToken !== undefined ? { clientToken } : {}),
    };
  }

  /** UPDATE: creates the shadow or merges the request's state into it; every accepted update bumps the version. */
  update(accountId: string, key: ShadowKey, payload: Buffer): UpdateResult {
    const id = ShadowService.id(key);
    const request = parseDocument(payload);
    const clientToken = clientTokenOf(request);
    const state = request.state;
    if (state === undefined) throw new ShadowError(400, 'Missing required node: state');
    if (!isObject(state)) throw new ShadowError(400, 'State node must be an object');
    for (const node of Object.keys(state)) if (node !== 'desired' && node !== 'reported') throw new ShadowError(400, 'State contains an invalid node');
    const { desired, reported } = state;
    if (desired !== undefined && desired !== null && !isObject(desired)) throw new ShadowError(400, 'Desired node must be an object');
    if (reported !== undefined && reported !== null && !isObject(reported)) throw new ShadowError(400, 'Reported node must be an object');
    if (depthOf(desired ?? null) > MAX_DEPTH || depthOf(reported ?? null) > MAX_DEPTH) {
      throw new ShadowError(400, `JSON contains too many levels of nesting; maximum is ${MAX_DEPTH}`);
    }
    if (request.version !== undefined && (typeof request.version !== 'number' || !Number.isInteger(request.version))) throw new ShadowError(400, 'Invalid version');

    const shadows = this.shadows(accountId);
    const current = shadows.get(id);
    if (request.version !== undefined && request.version !== (current?.exists ? current.version : undefined)) throw new ShadowError(409, 'Version conflict');

    const timestamp = this.seconds();
    const section = (stored: JsonObject | undefined, patch: Json | undefined) =>
      patch === undefined ? stored : patch === null ? undefined : nonEmpty(merge(stored, patch as JsonObject));
    const sectionMetadata = (stored: JsonObject | undefined, patch: Json | undefined) =>
      patch === undefined ? stored : patch === null ? undefined : nonEmpty(mergeMetadata(stored, patch as JsonObject, timestamp));
    const before = current?.exists ? current : undefined;
    const next: StoredShadow = {
      version: (current?.version ?? 0) + 1,
      exists: true,
      metadata: {},
    };
    const nextDesired = section(before?.desired, desired);
    const nextReported = section(before?.reported, reported);
    if (nextDesired) next.desired = nextDesired;
    if (nextReported) next.reported = nextReported;
    const desiredMetadata = sectionMetadata(before?.metadata.desired, desired);
    const reportedMetadata = sectionMetadata(before?.metadata.reported, reported);
    if (desiredMetadata) next.metadata.desired = desiredMetadata;
    if (reportedMetadata) next.metadata.reported = reportedMetadata;
    if (Buffer.byteLength(JSON.stringify({ desired: next.desired ?? {}, reported: next.reported ?? {} })) > MAX_STATE_BYTES) {
      throw new ShadowError(413, 'The payload exceeds the maximum size allowed');
    }
    shadows.set(id, next);

    const token: JsonObject = clientToken !== undefined ? { clientToken } : {};
    const accepted: JsonObject = {
      state: structuredClone(state),
      metadata: Object.fromEntries(Object.entries({ desired, reported }).filter(([, v]) => v !== undefined).map(([k, v]) => [k, stamp(v ?? null, timestamp)])),
      version: next.version,
      timestamp,
      ...token,
    };
    // Published on every accepted update whose document then holds a delta, not only on changes to desired
    // (AWS re:Post, "How to deal with shadow updates initiated by device": "A /delta message will be published
    // immediately whenever there's a mismatch").
    const delta = deltaOf(next.desired, next.reported);
    const snapshot = (shadow: StoredShadow): JsonObject => ({
      state: { ...(shadow.desired ? { desired: structuredClone(shadow.desired) } : {}), ...(shadow.reported ? { reported: structuredClone(shadow.reported) } : {}) },
      metadata: { ...(shadow.metadata.desired ? { desired: structuredClone(shadow.metadata.desired) } : {}), ...(shadow.metadata.reported ? { reported: structuredClone(shadow.metadata.reported) } : {}) },
      version: shadow.version,
    });
    return {
      accepted,
      ...(delta ? { delta: { version: next.version, timestamp, state: delta, metadata: metadataFor(delta, next.metadata.desired), ...token } } : {}),
      // A new shadow has no `previous` (unsourced: the AWS IoT Device SDK v2's ShadowUpdatedEvent model has
      // `previous` optional; AWS's docs show only an update of an existing shadow).
      documents: { ...(before ? { previous: snapshot(before) } : {}), current: snapshot(next), timestamp, ...token },
    };
  }

  /** DELETE: the shadow goes; its version is kept, so a shadow created again continues from it. */
  delete(accountId: string, key: ShadowKey, clientToken?: string): JsonObject {
    const shadow = this.existing(accountId, key);
    this.shadows(accountId).set(ShadowService.id(key), { version: shadow.version, exists: false, metadata: {} });
    return { version: shadow.version, timestamp: this.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) };
  }

  /** ListNamedShadowsForThing: the thing's named shadows (not the classic one), sorted, paged. */
  listNamed(accountId: string, thingName: string, options: { pageSize?: number; nextToken?: string } = {}): { results: string[]; nextToken?: string; timestamp: number } {
    ShadowService.id({ thingName });
    // The model bounds pageSize to 1..100 and names no default: 25 is an assumption (the control plane's lists page at 25).
    const pageSize = options.pageSize ?? 25;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new ShadowError(400, 'pageSize must be between 1 and 100');
    const names = [...this.shadows(accountId).entries()]
      .filter(([id, shadow]) => shadow.exists && id.startsWith(`${thingName}\u0000`) && !id.endsWith('\u0000'))
      .map(([id]) => id.slice(thingName.length + 1))
      .sort();
    const start = options.nextToken === undefined ? 0 : names.findIndex((name) => name > options.nextToken!);
    const page = start < 0 ? [] : names.slice(start, start + pageSize);
    const more = start >= 0 && start + pageSize < names.length;
    return { results: page, ...(more ? { nextToken: page.at(-1)! } : {}), timestamp: this.seconds() };
  }
}

// ---- The MQTT topics: $aws/things/<thing>/shadow[/name/<name>]/{get,update,delete}[/<reply>] ----

const SHADOW_TOPIC = /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(get|update|delete)(?:\/(accepted|rejected|delta|documents))?$/;

export interface ShadowTopic extends ShadowKey {
  operation: 'get' | 'update' | 'delete';
  reply?: 'accepted' | 'rejected' | 'delta' | 'documents';
}

export function parseShadowTopic(topic: string): ShadowTopic | undefined {
  const match = SHADOW_TOPIC.exec(topic);
  if (!match) return undefined;
  const [, thingName, shadowName, operation, reply] = match;
  if ((reply === 'delta' || reply === 'documents') && operation !== 'update') return undefined;
  return {
    thingName: thingName!,
    ...(shadowName !== undefined ? { shadowName } : {}),
    operation: operation as ShadowTopic['operation'],
    ...(reply !== undefined ? { reply: reply as ShadowTopic['reply'] } : {}),
  };
}

/** Topics the Device Shadow service publishes on: devices may subscribe and receive, never publish (reserved topics). */
export function isShadowReplyTopic(topic: string): boolean {
  return parseShadowTopic(topic)?.reply !== undefined;
}

export interface ShadowMessage {
  topic: string;
  payload: JsonObject;
}

/**
 * A request published on a shadow request topic, answered with the messages the service publishes:
 * accepted (+ delta, documents for an update) or rejected with `{code, message, timestamp, clientToken}`
 * (device-shadow-document.html, "Error response document"). Undefined when the topic is not a shadow request.
 */
export function serveShadowRequest(shadows: ShadowService, accountId: string, topic: string, payload: Buffer): ShadowMessage[] | undefined {
  const parsed = parseShadowTopic(topic);
  if (!parsed || parsed.reply) return undefined;
  const key: ShadowKey = { thingName: parsed.thingName, ...(parsed.shadowName !== undefined ? { shadowName: parsed.shadowName } : {}) };
  try {
    if (parsed.operation === 'get') return [{ topic: `${topic}/accepted`, payload: shadows.get(accountId, key, requestClientToken(payload)) }];
    if (parsed.operation === 'delete') return [{ topic: `${topic}/accepted`, payload: shadows.delete(accountId, key, requestClientToken(payload)) }];
    const result = shadows.update(accountId, key, payload);
    return [
      { topic: `${topic}/accepted`, payload: result.accepted },
      ...(result.delta ? [{ topic: `${topic}/delta`, payload: result.delta }] : []),
      { topic: `${topic}/documents`, payload: result.documents },
    ];
  } catch (error) {
    if (!(error instanceof ShadowError)) throw error;
    const clientToken = requestClientToken(payload);
    return [
      {
        topic: `${topic}/rejected`,
        payload: { code: error.code, message: error.message, timestamp: shadows.seconds(), ...(clientToken !== undefined && Buffer.byteLength(clientToken) <= MAX_CLIENT_TOKEN_BYTES ? { clientToken } : {}) },
      },
    ];
  }
}
