import * as z from 'zod/mini';
import type { DeviceListPage, DeviceListQuery } from '../../shared/aws/registry/list-index';
import type { ProvisioningMetrics, SeriesTotal } from '../../shared/aws/cloudwatch/provisioning-metrics';
import type { DecisionChart, DecisionItem, DecisionsQuery } from '../../shared/aws/timeline/decisions';
import type { ThingFacts } from '../../shared/aws/iot/thing-facts';
import { readCertificateFacts } from '../../shared/certificates/certificate-facts';
import type { DiagnosisPorts } from '../../shared/diagnosis/gather-facts';
import { whyCannotConnect } from '../../shared/diagnosis/why';
import { BAD_REQUEST, type ConsoleRequest, routeOperatorRequest, type ConsoleRoutes } from '../../shared/http/console';
import { decodePageToken, encodePageToken } from '../../shared/http/page-token';
import { jsonResponse, refusal, type HttpApiResult } from '../../shared/http/response';
import type { TimelineEvent } from '../../shared/lifecycle/ports';
import { stateOf } from '../../shared/lifecycle/states';
import type { CertificateRecord } from '../../shared/provisioning/iot-ports';
import { deviceIdSchema, type DeviceEntry } from '../../shared/registry/device-entry';
import {
  decisionsQuerySchema,
  DECISIONS_DEFAULT,
  DECISIONS_WINDOW_MAX_HOURS,
  DEVICE_LIST_DEFAULT,
  deviceListQuerySchema,
  devicePageQuerySchema,
  metricsQuerySchema,
  TIMELINE_PAGE_DEFAULT,
  whyQuerySchema,
} from '../../shared/schemas/console-request';
import { issuesOf } from '../../shared/schemas/issues';
import type { Log } from '../../shared/log';

/**
 * The console's read routes (operators only): the device list, a device's page, its diagnosis, and the
 * recent decisions with their chart. Each route parses its query here, calls its reads, and shapes the JSON;
 * the reads come in `deps` (bound in ./handler.ts).
 */

export interface ConsoleReadDeps {
  listDevices(query: DeviceListQuery): Promise<DeviceListPage>;
  getDevice(deviceId: string): Promise<DeviceEntry | undefined>;
  timelinePage(deviceId: string, options: { limit: number; before?: string }): Promise<{ events: Array<Omit<TimelineEvent, 'at' | 'key'> & { at: string }>; next?: string }>;
  describeCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  describeThing(thingName: string): Promise<ThingFacts | undefined>;
  listThingGroupsForThing(thingName: string): Promise<string[] | undefined>;
  /** The diagnosis's ports (as `devices why` binds them), its device policy and the data endpoint. */
  why: { ports: DiagnosisPorts; devicePolicy: string; dataEndpoint(): Promise<string | undefined> };
  listDecisions(query: DecisionsQuery): Promise<{ items: DecisionItem[]; next?: string }>;
  decisionChart(window: { since: Date; now: Date }, maxItems: number): Promise<DecisionChart>;
  /** The stage's provisioning metrics over the window, from CloudWatch. */
  readMetrics(window: { since: Date; until: Date }): Promise<ProvisioningMetrics>;
  now: () => Date;
  log: Pick<Log, 'error'>;
}

/** Decisions the chart counts at most per request (its cost: ~0.5 read units per 40 decisions). */
export const CHART_MAX_DECISIONS = 20_000;
const DEFAULT_WINDOW_HOURS = 24;

type Parsed<T> = { ok: true; value: T } | { ok: false; answer: HttpApiResult };

function parseQuery<T extends z.ZodMiniType>(schema: T, query: Record<string, string>): Parsed<z.infer<T>> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) return { ok: false, answer: refusal(400, BAD_REQUEST, 'query-invalid', issuesOf(parsed.error, { unknownKeysApart: true })) };
  return { ok: true, value: parsed.data as z.infer<T> };
}

const tokenRefused = (parameter: string) => refusal(400, BAD_REQUEST, 'next-token-invalid', [{ path: parameter, message: 'is not a token this API returned for this query' }]);

/** The device id of the path, checked. */
function deviceIdOf(request: ConsoleRequest): Parsed<string> {
  const parsed = deviceIdSchema.safeParse(request.event.pathParameters?.deviceId ?? '');
  if (!parsed.success) return { ok: false, answer: refusal(400, BAD_REQUEST, 'device-id-invalid', issuesOf(parsed.error).map((i) => ({ ...i, path: 'deviceId' }))) };
  return { ok: true, value: parsed.data };
}

const afterSchema = z.strictObject({ after: deviceIdSchema });
const timelineTokenSchema = z.strictObject({ before: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T[0-9:.]+Z#[a-z]+#[A-Za-z0-9:_-]{1,128}$/)) });
const decisionsTokenSchema = z.strictObject({ before: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T[0-9:.]+Z(#[a-z]+#[A-Za-z0-9:_-]{1,128})?$/)), since: z.string() });

async function deviceList(request: ConsoleRequest, deps: ConsoleReadDeps): Promise<HttpApiResult> {
  const query = parseQuery(deviceListQuerySchema, request.query);
  if (!query.ok) return query.answer;
  const { prefix, state, nextToken } = query.value;
  let after: string | undefined;
  if (nextToken) {
    after = decodePageToken('devices', nextToken, afterSchema)?.after;
    // A token of another search would skip or repeat devices: only this prefix's are accepted.
    if (!after || (prefix && !after.startsWith(prefix))) return tokenRefused('nextToken');
  }
  const page = await deps.listDevices({
    limit: Number(query.value.limit ?? DEVICE_LIST_DEFAULT),
    ...(prefix ? { prefix } : {}),
    ...(state ? { state } : {}),
    ...(after ? { after } : {}),
  });
  return jsonResponse(200, { items: page.items, ...(page.next ? { nextToken: encodePageToken('devices', { after: page.next }) } : {}) });
}

/** The certificate as the device page shows it: AWS IoT's status, and the validity its PEM states. */
function certificateView(record: CertificateRecord) {
  let validity: { notBefore: string; notAfter: string } | undefined;
  try {
    const facts = readCertificateFacts(record.certificatePem);
    validity = { notBefore: facts.notBefore.toISOString(), notAfter: facts.notAfter.toISOString() };
  } catch {
    validity = undefined;
  }
  return {
    certificateId: record.certificateId,
    status: record.status,
    ...(record.caCertificateId ? { caCertificateId: record.caCertificateId } : {}),
    ...(validity ?? {}),
  };
}

async function devicePage(request: ConsoleRequest, deps: ConsoleReadDeps): Promise<HttpApiResult> {
  const id = deviceIdOf(request);
  if (!id.ok) return id.answer;
  const query = parseQuery(devicePageQuerySchema, request.query);
  if (!query.ok) return query.answer;
  let before: string | undefined;
  if (query.value.timelineToken) {
    before = decodePageToken(`timeline:${id.value}`, query.value.timelineToken, timelineTokenSchema)?.before;
    if (!before) return tokenRefused('timelineToken');
  }
  const deviceId = id.value;
  const [entry, timeline] = await Promise.all([
    deps.getDevice(deviceId),
    deps.timelinePage(deviceId, { limit: Number(query.value.timelineLimit ?? TIMELINE_PAGE_DEFAULT), ...(before ? { before } : {}) }),
  ]);
  if (!entry && timeline.events.length === 0) return refusal(404, 'Not found', 'device-not-found');
  const certificateId = entry?.certificateId ?? entry?.suspension?.certificateId;
  const thingName = entry?.thingName ?? entry?.suspension?.thingName ?? (entry?.certificateId ? deviceId : undefined);
  const [certificate, thing, thingGroups] = await Promise.all([
    certificateId ? deps.describeCertificate(certificateId) : undefined,
    thingName ? deps.describeThing(thingName) : undefined,
    thingName ? deps.listThingGroupsForThing(thingName) : undefined,
  ]);
  return jsonResponse(200, {
    deviceId,
    state: stateOf(entry),
    entry: entry ?? null,
    certificate: certificate ? certificateView(certificate) : certificateId ? { certificateId, status: 'NOT_FOUND' } : null,
    thing: thing ? { ...thing, thingGroups: thingGroups ?? [] } : null,
    timeline: {
      events: timeline.events,
      ...(timeline.next ? { nextToken: encodePageToken(`timeline:${deviceId}`, { before: timeline.next }) } : {}),
    },
  });
}

async function why(request: ConsoleRequest, deps: ConsoleReadDeps): Promise<HttpApiResult> {
  const id = deviceIdOf(request);
  if (!id.ok) return id.answer;
  const query = parseQuery(whyQuerySchema, request.query);
  if (!query.ok) return query.answer;
  const dataEndpoint = await deps.why.dataEndpoint().catch(() => undefined);
  const { diagnosis, facts } = await whyCannotConnect(deps.why.ports, {
    deviceId: id.value,
    ...(query.value.certificate ? { certificate: { certificateId: query.value.certificate.toLowerCase() } } : {}),
    devicePolicy: deps.why.devicePolicy,
    ...(dataEndpoint ? { dataEndpoint } : {}),
    now: deps.now(),
  });
  // The same document as `devices why --json`.
  return jsonResponse(200, { diagnosis, facts });
}

async function decisions(request: ConsoleRequest, deps: ConsoleReadDeps): Promise<HttpApiResult> {
  const query = parseQuery(decisionsQuerySchema, request.query);
  if (!query.ok) return query.answer;
  const now = deps.now();
  const earliest = new Date(now.getTime() - DECISIONS_WINDOW_MAX_HOURS * 3_600_000);
  const since = query.value.since ? new Date(query.value.since) : new Date(now.getTime() - DEFAULT_WINDOW_HOURS * 3_600_000);
  if (since < earliest || since > now) {
    return refusal(400, BAD_REQUEST, 'query-invalid', [{ path: 'since', message: `must be within the last ${DECISIONS_WINDOW_MAX_HOURS} hours` }]);
  }
  let before: string | undefined;
  if (query.value.nextToken) {
    const token = decodePageToken('decisions', query.value.nextToken, decisionsTokenSchema);
    // A token continues the window it was issued for.
    if (!token || token.since !== since.toISOString()) return tokenRefused('nextToken');
    before = token.before;
  }
  const limit = Number(query.value.limit ?? DECISIONS_DEFAULT);
  // The chart comes with the first page only: the next pages are the same window.
  const [page, chart] = await Promise.all([
    deps.listDecisions({ since, now, limit, ...(before ? { before } : {}) }),
    before ? undefined : deps.decisionChart({ since, now }, CHART_MAX_DECISIONS),
  ]);
  return jsonResponse(200, {
    since: since.toISOString(),
    until: now.toISOString(),
    items: page.items,
    ...(page.next ? { nextToken: encodePageToken('decisions', { before: page.next, since: since.toISOString() }) } : {}),
    ...(chart ? { chart } : {}),
  });
}

/** What AWS IoT waits for the pre-provisioning hook's answer, and the hook's own deadline (HOOK_DEADLINE_MS of serverless.yml). */
export const HOOK_BUDGET_MS = 5_000;
export const HOOK_DEADLINE_MS = 3_000;

/** The totals of `metric`, added up by the dimensions `keys` (over services, should there be several). */
function rowsOf<K extends string>(totals: SeriesTotal[], metric: string, keys: readonly K[]): Array<Record<K, string> & { count: number }> {
  const rows = new Map<string, Record<K, string> & { count: number }>();
  for (const t of totals.filter((t) => t.metric === metric)) {
    const dimensions = Object.fromEntries(keys.map((k) => [k, t.dimensions[k] ?? ''])) as Record<K, string>;
    const key = JSON.stringify(dimensions);
    const row = rows.get(key) ?? { ...dimensions, count: 0 };
    row.count += t.sum;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.count - a.count || JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** `GET /metrics?hours=1|24|168`: the figures of the operator home, read from CloudWatch. */
async function metrics(request: ConsoleRequest, deps: ConsoleReadDeps): Promise<HttpApiResult> {
  const query = parseQuery(metricsQuerySchema, request.query);
  if (!query.ok) return query.answer;
  const hours = Number(query.value.hours ?? DEFAULT_WINDOW_HOURS);
  // Whole minutes: a period of GetMetricData over 30 s is a multiple of 60 s.
  const until = new Date(Math.ceil(deps.now().getTime() / 60_000) * 60_000);
  const since = new Date(until.getTime() - hours * 3_600_000);
  const read = await deps.readMetrics({ since, until });
  const sum = (metric: string) => read.totals.filter((t) => t.metric === metric).reduce((total, t) => total + t.sum, 0);
  return jsonResponse(200, {
    since: since.toISOString(),
    until: until.toISOString(),
    hours,
    decisions: rowsOf(read.totals, 'Decisions', ['flow', 'outcome', 'reason'] as const),
    activations: rowsOf(read.totals, 'Activations', ['flow'] as const),
    claimsVended: sum('ClaimsVended'),
    hookLatencyMs: {
      p50: read.hookLatency?.p50 ?? null,
      p99: read.hookLatency?.p99 ?? null,
      decisions: read.hookLatency?.count ?? 0,
      budget: HOOK_BUDGET_MS,
      deadline: HOOK_DEADLINE_MS,
    },
    vendActions: rowsOf(read.totals, 'VendActions', ['action', 'outcome'] as const),
    lifecycleActions: rowsOf(read.totals, 'LifecycleActions', ['action', 'outcome'] as const),
    retirements: rowsOf(read.totals, 'Retirements', ['outcome'] as const),
    expiryFindings: rowsOf(read.totals, 'ExpiryFindings', ['reason'] as const),
    coldStarts: rowsOf(read.totals, 'ColdStart', ['function_name'] as const).map(({ function_name, count }) => ({ function: function_name, count })),
    cost: read.cost,
  });
}

const ROUTES: ConsoleRoutes<ConsoleReadDeps> = {
  'GET /devices': deviceList,
  'GET /devices/{deviceId}': devicePage,
  'GET /devices/{deviceId}/why': why,
  'GET /decisions': decisions,
  'GET /metrics': metrics,
};

export const handleConsoleRead = (event: unknown, deps: ConsoleReadDeps): Promise<HttpApiResult> => routeOperatorRequest(event, ROUTES, deps, 'console read failed');
