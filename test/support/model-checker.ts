import { operationOf, shapeOf, type MemberRef, type Operation, type ServiceModel, type Shape } from './service-model';

/**
 * Holds a raw REST-JSON answer to the `iot` service model, as strictly as the model allows and more strictly
 * than any SDK reads it (an SDK drops unknown members, coerces types and never checks a constraint): every
 * member known, every required member present, every type, enum, length, range and pattern as the shape says,
 * nested all the way down; headers and the status code where the output binds them; an error answer's code,
 * status and body against the operation's documented errors. Each difference names the operation and the
 * path, e.g. `ListThings.things[0].attributes.color: …`.
 */

export interface WireResponse {
  status: number;
  /** Lower-case names, as node:http and fetch give them. */
  headers: Record<string, string>;
  /** The body as sent: a difference in JSON itself is a difference too. */
  text: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const keyPath = (path: string, key: string) => (IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
const kindOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`);

const patterns = new Map<string, RegExp>();
// Java's POSIX classes, which the model's patterns use (ThingGroupDescription: `[\p{Graph}\x20]*`) and
// JavaScript lacks; in Java they are ASCII unless UNICODE_CHARACTER_CLASS is set.
const POSIX: Record<string, string> = { Graph: '\\x21-\\x7E', Cntrl: '\\x00-\\x1F\\x7F', Digit: '0-9', Upper: 'A-Z' };
/**
 * A model pattern as a JavaScript regular expression matching the WHOLE value. Smithy does not anchor
 * patterns, but most of these (`[a-zA-Z0-9:_-]+` for a thing name) would then accept any string with one
 * allowed character; the whole-value reading is the stricter one, and every value AWS itself stores
 * passes it (a name it accepted at create time).
 */
function regexOf(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    const source = pattern.replace(/\\p\{(Graph|Cntrl|Digit|Upper)\}/g, (_, name: string) => POSIX[name]!);
    regex = new RegExp(`^(?:${source})$`, 'u');
    patterns.set(pattern, regex);
  }
  return regex;
}

/** Rest-json body timestamps are epoch seconds unless the shape says otherwise (aws-iot-reference §0). */
function checkTimestamp(shape: Shape, value: unknown, path: string, inHeader: boolean): string[] {
  const format = shape.timestampFormat ?? (inHeader ? 'rfc822' : 'unixTimestamp');
  if (format === 'unixTimestamp') {
    return typeof value === 'number' && Number.isFinite(value) ? [] : [`${path}: a timestamp must be epoch seconds (a number), got ${kindOf(value)} ${JSON.stringify(value)}`];
  }
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return [`${path}: a timestamp must be an ${format} date string, got ${JSON.stringify(value)}`];
  return [];
}

function checkString(shape: Shape, value: unknown, path: string): string[] {
  if (typeof value !== 'string') return [`${path}: expected a string, got ${kindOf(value)}`];
  const problems: string[] = [];
  if (shape.enum && !shape.enum.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of the enum ${shape.enum.join(', ')}`);
  // Smithy's length trait counts Unicode code points for strings.
  const length = [...value].length;
  if (shape.min !== undefined && length < shape.min) problems.push(`${path}: length ${length} is below the minimum ${shape.min}`);
  if (shape.max !== undefined && length > shape.max) problems.push(`${path}: length ${length} is above the maximum ${shape.max}`);
  if (shape.pattern !== undefined && !regexOf(shape.pattern).test(value)) problems.push(`${path}: ${JSON.stringify(value)} does not match the pattern ${shape.pattern}`);
  return problems;
}

function checkRange(shape: Shape, value: number, path: string): string[] {
  const problems: string[] = [];
  if (shape.min !== undefined && value < shape.min) problems.push(`${path}: ${value} is below the minimum ${shape.min}`);
  if (shape.max !== undefined && value > shape.max) problems.push(`${path}: ${value} is above the maximum ${shape.max}`);
  return problems;
}

function checkCount(shape: Shape, count: number, path: string): string[] {
  const problems: string[] = [];
  if (shape.min !== undefined && count < shape.min) problems.push(`${path}: ${count} entries, below the minimum ${shape.min}`);
  if (shape.max !== undefined && count > shape.max) problems.push(`${path}: ${count} entries, above the maximum ${shape.max}`);
  return problems;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The members of a structure that travel in the JSON body: those without a location. `all` counts every
 * member (an input as a scenario writes it, before it is bound to path, query and headers).
 */
function bodyMembers(shape: Shape, all = false): [string, MemberRef][] {
  return Object.entries(shape.members ?? {}).filter(([name, ref]) => all || (ref.location === undefined && shape.payload !== name));
}

function checkStructure(model: ServiceModel, shape: Shape, value: unknown, path: string, all: boolean): string[] {
  if (!isObject(value)) return [`${path}: expected a structure (a JSON object), got ${kindOf(value)}`];
  if (shape.document) return [];
  const members = new Map(bodyMembers(shape, all).map(([name, ref]) => [all ? name : (ref.locationName ?? name), { name, ref }]));
  const problems: string[] = [];
  for (const [key, member] of Object.entries(value)) {
    const known = members.get(key);
    if (!known) {
      problems.push(`${keyPath(path, key)}: unknown member (the shape has ${[...members.keys()].join(', ') || 'no body members'})`);
      continue;
    }
    if (member === null) {
      problems.push(`${keyPath(path, key)}: null (a member is absent or has a value)`);
      continue;
    }
    problems.push(...checkValue(model, known.ref.shape, member, keyPath(path, key)));
  }
  for (const required of shape.required ?? []) {
    const ref = shape.members?.[required];
    if (!ref || (!all && (ref.location !== undefined || shape.payload === required))) continue;
    const key = all ? required : (ref.locationName ?? required);
    if (value[key] === undefined) problems.push(`${keyPath(path, key)}: missing required member`);
  }
  if (shape.union && Object.keys(value).length !== 1) problems.push(`${path}: a union has exactly one member set, got ${Object.keys(value).length}`);
  return problems;
}

/** Every difference between a JSON value and the model's shape `shapeName`, each as `path: problem`. */
export function checkValue(model: ServiceModel, shapeName: string, value: unknown, path: string, options: { allMembers?: boolean } = {}): string[] {
  const shape = shapeOf(model, shapeName);
  switch (shape.type) {
    case 'structure':
      return checkStructure(model, shape, value, path, options.allMembers === true);
    case 'list':
      if (!Array.isArray(value)) return [`${path}: expected a list (a JSON array), got ${kindOf(value)}`];
      return [...checkCount(shape, value.length, path), ...value.flatMap((item, i) => checkValue(model, shape.member!.shape, item, `${path}[${i}]`))];
    case 'map':
      if (!isObject(value)) return [`${path}: expected a map (a JSON object), got ${kindOf(value)}`];
      return [
        ...checkCount(shape, Object.keys(value).length, path),
        ...Object.entries(value).flatMap(([key, item]) => [
          ...checkValue(model, shape.key!.shape, key, `${keyPath(path, key)} (key)`),
          ...checkValue(model, shape.value!.shape, item, keyPath(path, key)),
        ]),
      ];
    case 'string':
      return checkString(shape, value, path);
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path}: expected an ${shape.type} (a whole JSON number), got ${kindOf(value)} ${JSON.stringify(value)}`];
      if (shape.type === 'integer' && (value < -(2 ** 31) || value >= 2 ** 31)) return [`${path}: ${value} does not fit a 32-bit integer`];
      return checkRange(shape, value, path);
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) return [`${path}: expected a ${shape.type} (a JSON number), got ${kindOf(value)}`];
      return checkRange(shape, value, path);
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${kindOf(value)} ${JSON.stringify(value)}`];
    case 'timestamp':
      return checkTimestamp(shape, value, path, false);
    case 'blob':
      // A blob in a JSON body is base64.
      return typeof value === 'string' && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value)
        ? checkCount(shape, Buffer.from(value, 'base64').length, path)
        : [`${path}: expected a blob (a base64 string), got ${kindOf(value)}`];
    default:
      return [`${path}: the checker does not know the model type ${String(shape.type)}`];
  }
}

/** A header-bound member: the header text parsed as its shape's type, then checked as a body value would be. */
function checkHeader(model: ServiceModel, ref: MemberRef, text: string, path: string): string[] {
  const shape = shapeOf(model, ref.shape);
  switch (shape.type) {
    case 'integer':
    case 'long':
      return /^-?\d+$/.test(text) ? checkValue(model, ref.shape, Number(text), path) : [`${path}: expected an ${shape.type}, got ${JSON.stringify(text)}`];
    case 'boolean':
      return text === 'true' || text === 'false' ? [] : [`${path}: expected true or false, got ${JSON.stringify(text)}`];
    case 'timestamp':
      return checkTimestamp(shape, text, path, true);
    default:
      return checkValue(model, ref.shape, text, path);
  }
}

function parseBody(text: string, path: string): { value?: unknown; problem?: string } {
  if (text.trim() === '') return {};
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: `${path}: the body is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
}

/** Every difference between a successful answer and the operation's output: status, headers, body. */
export function checkOutput(model: ServiceModel, operationName: string, response: WireResponse): string[] {
  const operation = operationOf(model, operationName);
  const expectedStatus = operation.http.responseCode ?? 200;
  const problems: string[] = [];
  if (response.status !== expectedStatus) {
    problems.push(`${operationName}: status ${response.status}, the model answers ${expectedStatus} (${response.text.slice(0, 200)})`);
    return problems;
  }
  const parsed = parseBody(response.text, operationName);
  if (parsed.problem) return [parsed.problem];
  if (!operation.output) {
    // No output shape: nothing to say. An empty body or an empty object say it.
    if (parsed.value !== undefined && !(isObject(parsed.value) && Object.keys(parsed.value).length === 0)) {
      problems.push(`${operationName}: the operation has no output, the body is ${response.text.slice(0, 200)}`);
    }
    return problems;
  }
  const shape = shapeOf(model, operation.output.shape);
  for (const [name, ref] of Object.entries(shape.members ?? {})) {
    const required = shape.required?.includes(name) === true;
    if (ref.location === 'header') {
      const header = response.headers[(ref.locationName ?? name).toLowerCase()];
      if (header === undefined) {
        if (required) problems.push(`${operationName}.<header ${ref.locationName ?? name}>: missing required header`);
      } else problems.push(...checkHeader(model, ref, header, `${operationName}.<header ${ref.locationName ?? name}>`));
    } else if (ref.location === 'statusCode') {
      problems.push(...checkValue(model, ref.shape, response.status, `${operationName}.<status>`));
    }
  }
  const payload = shape.payload ? shape.members?.[shape.payload] : undefined;
  if (payload) {
    const target = shapeOf(model, payload.shape);
    if (target.type === 'structure') problems.push(...checkValue(model, payload.shape, parsed.value ?? {}, `${operationName}.${shape.payload}`));
    return problems;
  }
  problems.push(...checkValue(model, operation.output.shape, parsed.value ?? {}, operationName));
  return problems;
}

/**
 * The error code as the SDKs read it: `x-amzn-ErrorType` with any `:…` suffix and any `…#` prefix dropped
 * (aws-iot-reference §0).
 */
export const errorCodeOf = (value: string) => value.split(':')[0]!.split('#').pop()!;

/**
 * Every difference between an error answer and the operation's documented errors: the code (header and
 * `__type`, which must agree), that the operation documents it, the error shape's httpStatusCode, and the body
 * against the error shape (`__type` is the protocol's, not a member).
 */
export function checkError(
  model: ServiceModel,
  operationName: string,
  response: WireResponse,
  /** Codes AWS is known to answer though the operation does not document them (each with its source, at the caller). */
  options: { undocumented?: readonly string[] } = {},
): { code?: string; problems: string[] } {
  const operation: Operation = operationOf(model, operationName);
  const problems: string[] = [];
  if (response.status < 300) return { problems: [`${operationName}: answered ${response.status} where an error was expected: ${response.text.slice(0, 200)}`] };
  const header = response.headers['x-amzn-errortype'];
  const parsed = parseBody(response.text, operationName);
  if (parsed.problem) return { problems: [parsed.problem] };
  if (!isObject(parsed.value)) return { problems: [`${operationName}: an error body must be a JSON object, got ${response.text.slice(0, 200)}`] };
  const { __type: type, ...members } = parsed.value;
  if (header === undefined) problems.push(`${operationName}.<header x-amzn-ErrorType>: missing`);
  const code = header !== undefined ? errorCodeOf(header) : typeof type === 'string' ? errorCodeOf(type) : undefined;
  if (type !== undefined && (typeof type !== 'string' || errorCodeOf(type) !== code)) {
    problems.push(`${operationName}.__type: ${JSON.stringify(type)} disagrees with x-amzn-ErrorType ${JSON.stringify(header)}`);
  }
  if (code === undefined) return { problems: [...problems, `${operationName}: the answer names no error code`] };
  const documented = (operation.errors ?? []).map((e) => e.shape);
  if (!documented.includes(code) && !options.undocumented?.includes(code)) {
    problems.push(`${operationName}: ${code} is not one of its documented errors (${documented.join(', ')})`);
    return { code, problems };
  }
  const shape = model.shapes[code];
  if (!shape?.exception) return { code, problems: [...problems, `${operationName}: ${code} is not an error shape of the model`] };
  if (shape.error?.httpStatusCode !== undefined && response.status !== shape.error.httpStatusCode) {
    problems.push(`${operationName}: ${code} answered with status ${response.status}, the model says ${shape.error.httpStatusCode}`);
  }
  problems.push(...checkValue(model, code, members, `${operationName}.${code}`));
  return { code, problems };
}

/** Every difference between a scenario's input and the operation's input shape (all members, wherever bound). */
export function checkInput(model: ServiceModel, operationName: string, input: Record<string, unknown>): string[] {
  const operation = operationOf(model, operationName);
  if (!operation.input) return Object.keys(input).length === 0 ? [] : [`${operationName}: the operation takes no input`];
  return checkValue(model, operation.input.shape, input, `${operationName}<input>`, { allMembers: true });
}

/**
 * The body members a value answers, as paths (`certificateDescription.validity.notBefore`, `things[].version`,
 * `attributes{}`), and those the shape has: what a set of answers never exercised is the difference.
 */
export function memberPaths(model: ServiceModel, shapeName: string, value: unknown, path = '', into = new Set<string>()): Set<string> {
  const shape = shapeOf(model, shapeName);
  const join = (name: string) => (path ? `${path}.${name}` : name);
  if (shape.type === 'structure' && isObject(value)) {
    for (const [name, ref] of bodyMembers(shape)) {
      const key = ref.locationName ?? name;
      if (value[key] === undefined) continue;
      into.add(join(name));
      memberPaths(model, ref.shape, value[key], join(name), into);
    }
  } else if (shape.type === 'list' && Array.isArray(value)) {
    for (const item of value) memberPaths(model, shape.member!.shape, item, `${path}[]`, into);
  } else if (shape.type === 'map' && isObject(value)) {
    for (const item of Object.values(value)) memberPaths(model, shape.value!.shape, item, `${path}{}`, into);
  }
  return into;
}

/** Every body member path of a shape, to `depth` levels (recursive shapes stop there). */
export function allMemberPaths(model: ServiceModel, shapeName: string, path = '', depth = 6, into = new Set<string>()): Set<string> {
  if (depth === 0) return into;
  const shape = shapeOf(model, shapeName);
  const join = (name: string) => (path ? `${path}.${name}` : name);
  if (shape.type === 'structure' && !shape.document) {
    for (const [name, ref] of bodyMembers(shape)) {
      into.add(join(name));
      allMemberPaths(model, ref.shape, join(name), depth - 1, into);
    }
  } else if (shape.type === 'list') allMemberPaths(model, shape.member!.shape, `${path}[]`, depth - 1, into);
  else if (shape.type === 'map') allMemberPaths(model, shape.value!.shape, `${path}{}`, depth - 1, into);
  return into;
}

