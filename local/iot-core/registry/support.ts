import { randomUUID, X509Certificate } from 'node:crypto';
import { IotError, invalid } from '../errors';

/**
 * What the registry's services share: the account they belong to, the clock, the version bookkeeping of
 * versioned resources, paging, and PEM parsing. Nothing here holds state of its own.
 */

/** The account a service instance belongs to (each service holds one account's state). */
export interface AccountScope {
  readonly accountId: string;
  readonly region: string;
  arn(resource: string): string;
  now(): Date;
}

/**
 * Grows with every change to what the TLS trust stores hold — CA certificates and certificates registered
 * without a CA — so they rebuild when it moves. One per registry (the trust store without SNI spans every
 * account); a JITR registration leaves it alone: thousands of first connects must not rebuild the TLS
 * context thousands of times.
 */
export class TrustRevision {
  private value = 0;
  get current(): number {
    return this.value;
  }
  bump(): void {
    this.value++;
  }
}

/** Records whose every change moves lastModifiedDate, customerVersion and generationId (aws-iot-reference §4). */
export interface Versioned {
  readonly creationDate: Date;
  readonly lastModifiedDate: Date;
  readonly customerVersion: number;
  readonly generationId: string;
}

/** A service's own, writable view of a record it hands out read-only. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

export const generationId = () => randomUUID();

export function versioned(now: Date): Versioned {
  return { creationDate: now, lastModifiedDate: now, customerVersion: 1, generationId: generationId() };
}

export function touch(record: Writable<Versioned>, now: Date): void {
  record.lastModifiedDate = now;
  record.customerVersion += 1;
  record.generationId = generationId();
}

/** A page of a list operation; `next` is the marker (or token) of the following page, if any. */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface Paging {
  size?: number | undefined;
  marker?: string | undefined;
}

/**
 * How one list operation pages: its name (a token is only good for the list, and the scope — e.g. the thing
 * whose principals are listed — that issued it), its default page size and its maximum (the model's
 * `PageSize`/`RegistryMaxResults` 1–250; `TopicRuleMaxResults` 1–10,000). ListCertificates and
 * ListCACertificates document a default page size of 25 (the model's documentation of the operations);
 * the other lists document none, and 25 is assumed for them too: a caller that does not follow tokens
 * then misses items locally no later than on AWS.
 */
export interface ListSpec {
  name: string;
  scope?: string;
  defaultSize?: number;
  maxSize?: number;
}

export const DEFAULT_PAGE_SIZE = 25;

function encodeToken(list: string, offset: number): string {
  return Buffer.from(JSON.stringify({ list, offset }), 'utf8').toString('base64');
}

function decodeToken(marker: string, list: string): number {
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(marker)) throw new Error('not base64');
    const token = JSON.parse(Buffer.from(marker, 'base64').toString('utf8')) as { list?: unknown; offset?: unknown };
    if (token.list !== list || typeof token.offset !== 'number' || !Number.isInteger(token.offset) || token.offset < 0) throw new Error('foreign');
    return token.offset;
  } catch {
    throw invalid('The pagination token is not valid for this request.');
  }
}

/**
 * One page of `items` (already filtered and in the list's order). The token is opaque (base64, as the
 * model's Marker pattern wants) and names the list it came from: a token of another list, or garbage, is an
 * InvalidRequestException; so is a page size outside 1–max.
 */
export function page<T>(items: readonly T[], { size, marker }: Paging, spec: ListSpec): Page<T> {
  const max = spec.maxSize ?? 250;
  if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > max)) {
    throw invalid(`The page size must be an integer between 1 and ${max}.`);
  }
  const list = spec.scope === undefined ? spec.name : `${spec.name}/${spec.scope}`;
  const start = marker === undefined || marker === '' ? 0 : decodeToken(marker, list);
  const limit = size ?? spec.defaultSize ?? DEFAULT_PAGE_SIZE;
  const slice = items.slice(start, start + limit);
  return start + limit < items.length ? { items: slice, next: encodeToken(list, start + limit) } : { items: slice };
}

/** Newest first unless `ascending` (the model's `ascendingOrder`: "ascending order, based on the creation date"). */
export function byCreation<T extends { readonly creationDate: Date }>(items: readonly T[], ascending: boolean): T[] {
  const sorted = [...items].sort((a, b) => a.creationDate.getTime() - b.creationDate.getTime());
  return ascending ? sorted : sorted.reverse();
}

/** Maps compared as maps: same keys, same values, whatever the order (CreateThing, CreateThingGroup idempotency). */
export function sameMap(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([k, v]) => [k, canonical(v)]),
      );
    }
    return value ?? null;
  };
  return JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
}

export function parseCertificate(pem: unknown, what: string): X509Certificate {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new IotError('CertificateValidationException', `The ${what} is not a valid PEM certificate.`);
  }
  try {
    return new X509Certificate(pem);
  } catch {
    throw new IotError('CertificateValidationException', `The ${what} is not a valid X.509 certificate.`);
  }
}
