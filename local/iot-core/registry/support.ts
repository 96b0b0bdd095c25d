import { randomUUID, X509Certificate } from 'node:crypto';
import { IotError } from '../errors';

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

export const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A page of a list operation; `next` is the marker (or token) of the following page, if any. */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface Paging {
  size?: number | undefined;
  marker?: string | undefined;
}

/** Markers are offsets; at most 250 items a page unless a smaller size is asked for. */
export function page<T>(items: T[], { size, marker }: Paging): Page<T> {
  const start = marker ? Number.parseInt(marker, 10) || 0 : 0;
  const limit = size && size > 0 ? size : 250;
  const slice = items.slice(start, start + limit);
  return start + limit < items.length ? { items: slice, next: String(start + limit) } : { items: slice };
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
