import { IotError, type IotErrorCode } from './errors';

/**
 * Control-plane traffic shaping: AWS's default per-operation TPS quotas (aws-iot-reference §5) as token
 * buckets per account, and fault injection for tests. Operations without a known quota are not throttled.
 */
export const DEFAULT_TPS: Readonly<Record<string, number>> = {
  // Service Quotas (current defaults)
  CreateThing: 100,
  DescribeThing: 350,
  UpdateThing: 100,
  DeleteThing: 100,
  AttachThingPrincipal: 100,
  DetachThingPrincipal: 100,
  ListThings: 10,
  ListThingPrincipals: 10,
  ListPrincipalThings: 10,
  AddThingToThingGroup: 100,
  CreateThingType: 15,
  CreateThingGroup: 25,
  // Developer Guide throttling table (2019)
  AttachPolicy: 15,
  AttachPrincipalPolicy: 15,
  CreateCertificateFromCsr: 15,
  CreatePolicy: 10,
  CreateRoleAlias: 10,
  DeleteCertificate: 10,
  DescribeCertificate: 10,
  DescribeCACertificate: 10,
  DescribeRoleAlias: 10,
  GetRegistrationCode: 10,
  RegisterCACertificate: 10,
  RegisterCertificate: 10,
  RegisterThing: 10,
  UpdateCACertificate: 10,
  UpdateCertificate: 10,
  DetachPolicy: 15,
};

/** Device certificates registered per second, JITR auto-registration included (aws-iot-reference §5). */
export const CERTIFICATE_REGISTRATIONS_PER_SECOND = 15;

export interface TrafficOptions {
  /** Apply the TPS quotas (default true). */
  throttling?: boolean;
  /** Multiplies every rate, to run a whole scenario faster by the same factor (default 1). */
  timeScale?: number;
  /** Overrides of DEFAULT_TPS. */
  tps?: Record<string, number>;
}

export interface FaultOptions {
  /** Probability that a call is answered with ThrottlingException regardless of quotas. */
  throttleRate?: number;
  /** Probability that a call fails with a 5xx. */
  errorRate?: number;
  errorCode?: Extract<IotErrorCode, 'InternalFailureException' | 'ServiceUnavailableException'>;
  /** Limit the faults to these operations (default: all). */
  operations?: readonly string[];
  random?: () => number;
}

export interface TrafficStats {
  calls: Record<string, number>;
  throttled: Record<string, number>;
  faults: Record<string, number>;
}

class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
    this.last = performance.now();
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class TrafficControl {
  private readonly buckets = new Map<string, TokenBucket>();
  private options: Required<Omit<TrafficOptions, 'tps'>> & { tps: Record<string, number> };
  private faults: FaultOptions = {};
  readonly stats: TrafficStats = { calls: {}, throttled: {}, faults: {} };

  constructor(options: TrafficOptions = {}) {
    this.options = {
      throttling: options.throttling ?? true,
      timeScale: options.timeScale ?? 1,
      tps: { ...DEFAULT_TPS, ...options.tps },
    };
  }

  configure(options: TrafficOptions): void {
    this.options = {
      throttling: options.throttling ?? this.options.throttling,
      timeScale: options.timeScale ?? this.options.timeScale,
      tps: { ...this.options.tps, ...options.tps },
    };
    this.buckets.clear();
  }

  setFaults(faults: FaultOptions): void {
    this.faults = { ...faults };
  }

  resetStats(): void {
    for (const key of ['calls', 'throttled', 'faults'] as const) this.stats[key] = {};
  }

  /** Records the call and throws the error the caller must answer with, if any. */
  admit(accountId: string, operation: string): void {
    const count = (map: Record<string, number>) => (map[operation] = (map[operation] ?? 0) + 1);
    count(this.stats.calls);
    const faults = this.faults;
    const random = faults.random ?? Math.random;
    const applies = !faults.operations || faults.operations.includes(operation);
    if (applies && faults.throttleRate && random() < faults.throttleRate) {
      count(this.stats.throttled);
      throw new IotError('ThrottlingException', 'Rate exceeded');
    }
    if (applies && faults.errorRate && random() < faults.errorRate) {
      count(this.stats.faults);
      const code = faults.errorCode ?? 'ServiceUnavailableException';
      throw new IotError(code, code === 'InternalFailureException' ? 'An unexpected error has occurred.' : 'Service unavailable.');
    }
    const tps = this.options.tps[operation];
    if (!this.options.throttling || !tps) return;
    if (!this.bucket(`${accountId}/${operation}`, tps).take()) {
      count(this.stats.throttled);
      throw new IotError('ThrottlingException', 'Rate exceeded');
    }
  }

  /** A rate limiter for non-API work (e.g. JITR registrations), scaled like the API quotas. */
  allow(accountId: string, activity: string, perSecond: number): boolean {
    if (!this.options.throttling || this.bucket(`${accountId}/${activity}`, perSecond).take()) return true;
    this.stats.throttled[activity] = (this.stats.throttled[activity] ?? 0) + 1;
    return false;
  }

  private bucket(key: string, perSecond: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const rate = perSecond * this.options.timeScale;
      bucket = new TokenBucket(rate, Math.max(1, rate));
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}
