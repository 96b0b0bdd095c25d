import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { servedOperations } from '../../local/iot-core/control-plane';
import { iotServiceModel, operationOf, shapeOf } from '../support/service-model';

/**
 * The other half of conformance: every input the route table reads, it reads where the `iot` model puts it.
 * An answer can be well-shaped and still ignore what the caller sent (a route that reads `?pageSize=` where the
 * model says `?maxResults=` pages at its default whatever the caller asks). Read from the route table's
 * source: each route's `query.get('…')`, `headers['…']` and `body.…`, and the paging helpers they call.
 */

const model = iotServiceModel();
const source = readFileSync(join(__dirname, '..', '..', 'local', 'iot-core', 'control-plane.ts'), 'utf8');
const table = source.slice(source.indexOf('function routes('), source.indexOf('export interface ServedOperation'));

/** What the helpers of the route table read, by the names they read. */
const HELPERS: Record<string, { query?: string[]; body?: string[] }> = {
  'markerPaging(query)': { query: ['pageSize', 'marker'] },
  'tokenPaging(query)': { query: ['maxResults', 'nextToken'] },
  'tagsOf(body)': { body: ['tags'] },
  'jobConfiguration(body)': { body: ['description', 'document', 'documentSource', 'jobExecutionsRolloutConfig', 'abortConfig', 'timeoutConfig'] },
};

/**
 * Inputs of the model that the local IoT Core reads nowhere, each with the reason it may. Any other input a
 * route does not read fails the test: a caller's parameter must not be dropped unnoticed.
 */
const IGNORED_INPUTS: Record<string, Record<string, string>> = {
  UpdateProvisioningTemplate: { defaultVersionId: 'template versions are not modelled: every template has its one version 1' },
  AddThingToThingGroup: { overrideDynamicGroups: 'dynamic thing groups are not modelled' },
  UpdateThingGroupsForThing: { overrideDynamicGroups: 'dynamic thing groups are not modelled' },
  CreateJob: {
    presignedUrlConfig: 'presigned S3 URLs in job documents are not modelled',
    namespaceId: 'job namespaces are not modelled',
    jobExecutionsRetryConfig: 'job execution retries are not modelled',
    documentParameters: 'managed job templates are not modelled',
    schedulingConfig: 'scheduled jobs are not modelled',
    destinationPackageVersions: 'the software package catalog is not modelled',
  },
  CreateJobTemplate: {
    presignedUrlConfig: 'presigned S3 URLs in job documents are not modelled',
    jobExecutionsRetryConfig: 'job execution retries are not modelled',
    maintenanceWindows: 'scheduled jobs are not modelled',
    destinationPackageVersions: 'the software package catalog is not modelled',
  },
  ListJobs: { thingGroupId: 'jobs are found by the group name they target (thingGroupName)', namespaceId: 'job namespaces are not modelled' },
  DescribeJob: { beforeSubstitution: 'documents have no placeholders to substitute (managed job templates are not modelled)' },
  DeleteJob: { namespaceId: 'job namespaces are not modelled' },
  ListJobExecutionsForThing: { namespaceId: 'job namespaces are not modelled' },
};

interface Reads {
  query: Set<string>;
  headers: Set<string>;
  body: Set<string>;
}

function readsOf(block: string): Reads {
  const all = (pattern: RegExp) => [...block.matchAll(pattern)].map((m) => m[1]!);
  const reads: Reads = {
    query: new Set(all(/query\.get\('([^']+)'\)/g)),
    headers: new Set(all(/headers\['([^']+)'\]/g)),
    body: new Set([...all(/body\.(\w+)/g), ...all(/body\['([^']+)'\]/g)]),
  };
  for (const [call, names] of Object.entries(HELPERS)) {
    if (!block.includes(call)) continue;
    for (const name of names.query ?? []) reads.query.add(name);
    for (const name of names.body ?? []) reads.body.add(name);
  }
  return reads;
}

const routeBlocks = new Map(
  table
    .split(/\n\s+route\(/)
    .slice(1)
    .map((block) => [/^'\w+', '[^']+', '(\w+)'/.exec(block)?.[1] ?? '(unparsed)', block] as const),
);

describe('the route table reads its inputs where the model binds them', () => {
  it('finds every served operation in the route table source', () => {
    expect(servedOperations().map((s) => s.operation)).toEqual([...routeBlocks.keys()]);
  });

  it('reads a route the way the check needs (query, headers, body and the paging helpers)', () => {
    expect(readsOf(routeBlocks.get('ListCertificates')!)).toEqual({ query: new Set(['isAscendingOrder', 'pageSize', 'marker']), headers: new Set(), body: new Set() });
    expect(readsOf(routeBlocks.get('AttachThingPrincipal')!)).toEqual({
      query: new Set(['thingPrincipalType']),
      headers: new Set(['x-amzn-principal']),
      body: new Set(),
    });
    expect(readsOf(routeBlocks.get('CreateThingGroup')!).body).toEqual(new Set(['parentGroupName', 'thingGroupProperties', 'tags']));
  });

  it.each(servedOperations().map((s) => [s.operation]))('%s', (operation) => {
    const { input } = operationOf(model, operation);
    const members = input ? Object.entries(shapeOf(model, input.shape).members ?? {}) : [];
    const bound = (location: string | undefined) =>
      new Set(members.filter(([, ref]) => ref.location === location).map(([name, ref]) => (location === 'header' ? (ref.locationName ?? name).toLowerCase() : (ref.locationName ?? name))));
    const model_ = { query: bound('querystring'), headers: bound('header'), body: bound(undefined) };
    const reads = readsOf(routeBlocks.get(operation) ?? '');

    const misplaced = (['query', 'headers', 'body'] as const).flatMap((where) =>
      [...reads[where]]
        .filter((name) => !model_[where].has(name))
        .map((name) => `${operation} reads ${where} '${name}'; the model's ${where} members are: ${[...model_[where]].join(', ') || '(none)'}`),
    );
    expect(misplaced).toEqual([]);
  });

  it.each(servedOperations().map((s) => [s.operation]))('%s reads every input of the model, or says why not', (operation) => {
    const { input } = operationOf(model, operation);
    const reads = readsOf(routeBlocks.get(operation) ?? '');
    const unread = Object.entries(input ? (shapeOf(model, input.shape).members ?? {}) : {})
      .filter(([, ref]) => ref.location !== 'uri')
      .filter(([name, ref]) => {
        if (ref.location === 'querystring') return !reads.query.has(ref.locationName ?? name);
        if (ref.location === 'header') return !reads.headers.has((ref.locationName ?? name).toLowerCase());
        return !reads.body.has(ref.locationName ?? name);
      })
      .map(([name]) => name);
    expect(unread).toEqual(Object.keys(IGNORED_INPUTS[operation] ?? {}));
  });
});
