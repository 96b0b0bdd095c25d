import type { CaFacts } from './admit';
import type { CaReader } from './ports';

export type CaLookup = (caCertificateId: string) => Promise<CaFacts | undefined>;

/**
 * DescribeCACertificate, cached per container. Every registered event of a CA asks the same question, and
 * DescribeCACertificate is throttled at 10 TPS (aws-iot-reference §5): a burst of first connects must not
 * spend a call per device on it. Concurrent lookups share one request; failures are not cached.
 */
export function cachedCaLookup(
  iot: CaReader,
  options: { ttlMs: number; now: () => number },
): CaLookup {
  const cache = new Map<string, { expires: number; facts: Promise<CaFacts | undefined> }>();
  return (caCertificateId) => {
    const hit = cache.get(caCertificateId);
    if (hit && hit.expires > options.now()) return hit.facts;
    const facts = iot.describeCaCertificate(caCertificateId);
    cache.set(caCertificateId, { expires: options.now() + options.ttlMs, facts });
    facts.catch(() => cache.delete(caCertificateId));
    return facts;
  };
}
