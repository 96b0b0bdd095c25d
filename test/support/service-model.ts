import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * AWS's own service model for `iot` (the botocore `service-2.json` the AWS CLI reads: shapes with their
 * constraints, each operation's HTTP binding, input, output and documented errors), and a request builder
 * that binds an input to the wire as the model says. The file is pinned in test/conformance/model/ (its
 * provenance is in the README beside it), so a fresh clone has exactly the model the tests were written against.
 */

export interface MemberRef {
  shape: string;
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
}

export interface Shape {
  type: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'float' | 'double' | 'boolean' | 'timestamp' | 'blob';
  members?: Record<string, MemberRef>;
  required?: string[];
  member?: MemberRef;
  key?: MemberRef;
  value?: MemberRef;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  timestampFormat?: 'iso8601' | 'rfc822' | 'unixTimestamp';
  payload?: string;
  document?: boolean;
  union?: boolean;
  exception?: boolean;
  error?: { httpStatusCode: number; code?: string; senderFault?: boolean };
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string };
  errors?: { shape: string }[];
}

export interface ServiceModel {
  metadata: { protocol: string; apiVersion: string; serviceId: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

export const MODEL_FILE = join(__dirname, '..', 'conformance', 'model', 'iot-2015-05-28.service-2.json.gz');
export const PAGINATORS_FILE = join(__dirname, '..', 'conformance', 'model', 'iot-2015-05-28.paginators-1.json');

/** A list operation's paging, as botocore's paginators-1.json gives it (what the AWS CLI follows). */
export interface Paginator {
  input_token: string;
  output_token: string;
  limit_key?: string;
  result_key: string;
}

export function iotPaginators(): Record<string, Paginator> {
  return (JSON.parse(readFileSync(PAGINATORS_FILE, 'utf8')) as { pagination: Record<string, Paginator> }).pagination;
}

let cached: ServiceModel | undefined;

export function iotServiceModel(): ServiceModel {
  cached ??= JSON.parse(gunzipSync(readFileSync(MODEL_FILE)).toString('utf8')) as ServiceModel;
  return cached;
}

export function operationOf(model: ServiceModel, name: string): Operation {
  const operation = model.operations[name];
  if (!operation) throw new Error(`The iot service model has no operation ${name}`);
  return operation;
}

export function shapeOf(model: ServiceModel, name: string): Shape {
  const shape = model.shapes[name];
  if (!shape) throw new Error(`The iot service model has no shape ${name}`);
  return shape;
}

export interface WireRequest {
  method: string;
  /** The path and query string, e.g. `/things?maxResults=1`. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** One input value as it goes into a URI, a query string or a header (rest-json: booleans as true/false). */
function scalarText(shape: Shape, value: unknown): string {
  if (shape.type === 'timestamp' && typeof value === 'number') return new Date(value * 1000).toISOString();
  return String(value);
}

/**
 * Binds `input` (members named as in the model, values as they travel in JSON) to method, path, query,
 * headers and body as the operation's input shape places them. An input member the shape does not have is
 * an error in the scenario, not something to drop.
 */
export function buildRequest(model: ServiceModel, operationName: string, input: Record<string, unknown>): WireRequest {
  const operation = operationOf(model, operationName);
  const shape = operation.input ? shapeOf(model, operation.input.shape) : { type: 'structure' as const, members: {} };
  const members = shape.members ?? {};
  for (const name of Object.keys(input)) {
    if (!members[name]) throw new Error(`${operationName}: the input shape has no member ${name}`);
  }
  const [pathTemplate, fixedQuery] = operation.http.requestUri.split('?') as [string, string | undefined];
  const query = new URLSearchParams(fixedQuery);
  const headers: Record<string, string> = {};
  const body: Record<string, unknown> = {};
  let path = pathTemplate;
  let payload: string | undefined;
  for (const [name, ref] of Object.entries(members)) {
    const value = input[name];
    if (value === undefined) continue;
    const target = shapeOf(model, ref.shape);
    const wireName = ref.locationName ?? name;
    switch (ref.location) {
      case 'uri':
        path = path
          .replace(`{${wireName}+}`, String(value).split('/').map(encodeURIComponent).join('/'))
          .replace(`{${wireName}}`, encodeURIComponent(String(value)));
        break;
      case 'querystring':
        for (const item of Array.isArray(value) ? value : [value]) query.append(wireName, scalarText(target, item));
        break;
      case 'header':
        headers[wireName.toLowerCase()] = scalarText(target, value);
        break;
      default:
        if (shape.payload === name) payload = typeof value === 'string' ? value : JSON.stringify(value);
        else body[wireName] = value;
    }
  }
  const unbound = /\{(\w+)\+?\}/.exec(path);
  if (unbound) throw new Error(`${operationName}: the URI member ${unbound[1]} has no value`);
  const search = query.toString();
  const text = payload ?? (Object.keys(body).length > 0 ? JSON.stringify(body) : undefined);
  return {
    method: operation.http.method,
    url: `${path}${search ? `?${search}` : ''}`,
    headers: text === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(text === undefined ? {} : { body: text }),
  };
}
