import { DeadlineExceededError, raceDeadline, withDeadline } from '../../shared/lambda/deadline';

/** The one deadline race (shared/lambda/deadline.ts): the hook's decision, a custom resource's answer, a local invocation. */

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('raceDeadline', () => {
  it('settles with the value of work that finishes in time', async () => {
    await expect(raceDeadline(after(5, 'v'), Date.now() + 1_000)).resolves.toEqual({ kind: 'done', value: 'v' });
  });

  it('settles with the error of work that fails in time', async () => {
    const error = new Error('boom');
    await expect(raceDeadline(Promise.reject(error), Date.now() + 1_000)).resolves.toEqual({ kind: 'failed', error });
  });

  it('settles timed-out at the deadline, not when the work ends', async () => {
    const started = Date.now();
    await expect(raceDeadline(after(1_000, 'late'), started + 50)).resolves.toEqual({ kind: 'timed-out' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('times out at once for a deadline already past', async () => {
    await expect(raceDeadline(after(100, 'late'), Date.now() - 1)).resolves.toEqual({ kind: 'timed-out' });
  });

  it('reads the clock it is given', async () => {
    await expect(raceDeadline(after(200, 'late'), 1_050, () => 1_000)).resolves.toEqual({ kind: 'timed-out' });
  });

  it('aborts the signal it gives the work the moment the deadline passes, before it settles', async () => {
    let signal: AbortSignal | undefined;
    const raced = await raceDeadline((s) => {
      signal = s;
      return after(1_000, 'late');
    }, Date.now() + 20);
    expect(raced).toEqual({ kind: 'timed-out' });
    expect(signal?.aborted).toBe(true);
  });

  it('leaves the signal alone when the work wins', async () => {
    let signal: AbortSignal | undefined;
    await raceDeadline((s) => {
      signal = s;
      return after(5, 'v');
    }, Date.now() + 1_000);
    expect(signal?.aborted).toBe(false);
  });

  it('counts a function that throws before returning a promise as failed', async () => {
    const error = new TypeError('sync');
    await expect(
      raceDeadline(() => {
        throw error;
      }, Date.now() + 1_000),
    ).resolves.toEqual({ kind: 'failed', error });
  });
});

describe('withDeadline', () => {
  it('gives the value, rethrows the error, or throws DeadlineExceededError', async () => {
    await expect(withDeadline(after(5, 'v'), Date.now() + 1_000)).resolves.toBe('v');
    await expect(withDeadline(Promise.reject(new RangeError('r')), Date.now() + 1_000)).rejects.toThrow(RangeError);
    await expect(withDeadline(after(1_000, 'late'), Date.now() + 20)).rejects.toThrow(DeadlineExceededError);
  });
});
