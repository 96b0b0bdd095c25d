import type { BoundCertificate } from '../../expiry/ports';
import { queryItems, type Table } from '../table';
import { EXPIRY_SHARDS } from './entries';

/**
 * The registry's sparse expiry indexes (resources/storage.cjs `EXPIRY_INDEXES`): one Query per shard on
 * the index's sort key, paged. Only bound entries with recorded certificate facts are in them (markBound
 * sets `expiryShard`); an item that does not read as a bound certificate is skipped, never guessed at.
 */

export const EXPIRY_INDEXES = { byNotAfter: 'by-not-after', byNotBefore: 'by-not-before' } as const;

async function* queryIndex(table: Table, indexName: string, sortKey: 'notAfter' | 'notBefore', at: Date): AsyncIterable<BoundCertificate> {
  for (let shard = 0; shard < EXPIRY_SHARDS; shard++) {
    const items = queryItems(table, {
      IndexName: indexName,
      KeyConditionExpression: 'expiryShard = :shard AND #sortKey <= :at',
      ExpressionAttributeNames: { '#sortKey': sortKey },
      ExpressionAttributeValues: { ':shard': String(shard), ':at': at.toISOString() },
    });
    for await (const item of items) {
      const certificate = boundCertificateOf(item);
      if (certificate) yield certificate;
    }
  }
}

export function boundCertificateOf(item: Record<string, unknown>): BoundCertificate | undefined {
  const { deviceId, certificateId, thingName, bindingState, notBefore, notAfter, issuer, boundAt } = item;
  if (typeof deviceId !== 'string' || typeof certificateId !== 'string' || typeof notBefore !== 'string' || typeof notAfter !== 'string') return undefined;
  const from = new Date(notBefore);
  const to = new Date(notAfter);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return undefined;
  const i = (issuer ?? {}) as { subject?: unknown; awsIot?: unknown };
  return {
    deviceId,
    certificateId,
    ...(typeof thingName === 'string' ? { thingName } : {}),
    ...(typeof bindingState === 'string' ? { bindingState } : {}),
    notBefore: from,
    notAfter: to,
    issuer: { subject: typeof i.subject === 'string' ? i.subject : '', awsIot: i.awsIot === true },
    ...(typeof boundAt === 'string' ? { boundAt } : {}),
  };
}

/** Bound certificates whose notAfter is at or before `at`. */
export const expiringBy = (table: Table, at: Date): AsyncIterable<BoundCertificate> => queryIndex(table, EXPIRY_INDEXES.byNotAfter, 'notAfter', at);

/** Bound certificates whose notBefore is at or before `at`. */
export const issuedBy = (table: Table, at: Date): AsyncIterable<BoundCertificate> => queryIndex(table, EXPIRY_INDEXES.byNotBefore, 'notBefore', at);
