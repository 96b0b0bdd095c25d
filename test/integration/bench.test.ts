import { runBurst, sustainedRate, bindingQuota, WORKFLOW_CALLS } from '../../bench/burst';
import { bundleComposition } from '../../bench/bundle';
import { measureHookLatency } from '../../bench/hook-latency';
import { importMarkdown, measureImport } from '../../bench/import';

/**
 * `npm run bench` in miniature: the same code paths on a few devices, so that a broken bench fails here and
 * not only when someone runs the 15-minute version.
 */

jest.setTimeout(180_000);

describe('burst', () => {
  it('provisions every device once, with the workflow calls, for our handler and the baseline', async () => {
    for (const handler of ['ours', 'baseline'] as const) {
      const result = await runBurst({ devices: 24, handler, timeScale: 5, concurrency: 4, transport: 'gateway' });
      expect(result).toMatchObject({ devices: 24, active: 24, connected: 24, lost: 0, stuckPending: 0 });
      // Every workflow operation answered once per device (duplicates and retries cost the lease, not IoT calls).
      for (const operation of Object.keys(WORKFLOW_CALLS[handler])) {
        if (handler === 'ours') expect(result.callsByOperation[operation]).toBe(24);
        else expect(result.callsByOperation[operation]).toBeGreaterThanOrEqual(24);
      }
      expect(result.timeline.reduce((sum, s) => sum + s.activated, 0)).toBe(24);
      expect(result.timeline.reduce((sum, s) => sum + s.registered, 0)).toBe(24);
      expect(result.provisioningSeconds).toBeGreaterThan(0);
      expect(result.lastRegistrationSeconds).toBeLessThanOrEqual(result.provisioningSeconds);
      expect(result.firstActivationSeconds).toBeLessThanOrEqual(result.provisioningSeconds);
    }
  });
});

describe('burst arithmetic', () => {
  it('binds the workflow by its slowest quota per device', () => {
    expect(bindingQuota(WORKFLOW_CALLS.ours)).toEqual({ perSecond: 10, operation: 'DescribeCertificate' });
    expect(bindingQuota(WORKFLOW_CALLS.baseline)).toEqual({ perSecond: 10, operation: 'UpdateCertificate' });
    expect(bindingQuota({ DescribeCertificate: 2 })).toEqual({ perSecond: 5, operation: 'DescribeCertificate' });
  });

  it('measures the sustained rate between the 10th and 90th percentile', () => {
    const times = Array.from({ length: 100 }, (_, i) => i / 10); // 10 per second
    expect(sustainedRate(times)).toBeCloseTo(10, 5);
    expect(sustainedRate([1, 2, 3])).toBe(0);
  });
});

describe('hook latency', () => {
  it('answers every warm call and refuses in time with a stalled registry', async () => {
    const result = await measureHookLatency({ invocations: 20, stalledInvocations: 2 });
    expect(result.invocations).toBe(20);
    expect(result.allowed).toBe(10);
    expect(result.p50Ms).toBeGreaterThan(0);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
    expect(result.stalled).toMatchObject({ invocations: 2, allowed: 0 });
    expect(result.stalled.maxMs).toBeLessThan(5_000);
    expect(result.parts.dynamoRead.p50Ms).toBeGreaterThan(0);
  });
});

describe('factory import', () => {
  it('imports every row, then finds every row unchanged', async () => {
    const result = await measureImport({ rows: 300 });
    expect(result).toMatchObject({ rows: 300, imported: 300, unchanged: 300 });
    expect(result.rowsPerSecond).toBeGreaterThan(0);
    expect(importMarkdown(result)).toContain('| 300 |');
  });
});

describe('bundle composition', () => {
  it('accounts for every byte of the bundle', async () => {
    const composition = await bundleComposition('functions/pre-provisioning-hook/handler.ts');
    const accounted = composition.parts.reduce((sum, p) => sum + p.bytes, 0);
    // bytesInOutput leaves out esbuild's own glue (the runtime helpers and module wrappers): a few percent.
    expect(accounted).toBeLessThanOrEqual(composition.bytes);
    expect(accounted).toBeGreaterThan(composition.bytes * 0.9);
    expect(composition.parts.map((p) => p.origin)).toEqual(expect.arrayContaining(['AWS SDK', 'our code']));
  });
});
