/**
 * Work raced against a point in time: the pre-provisioning hook's 3-second decision, a custom resource's
 * answer before the Lambda limit, a local Lambda invocation's timeout. The work is not cancelled (a promise
 * cannot be): work that must stop when it loses passes a function, which is given an AbortSignal that is
 * aborted the moment the deadline passes, before the race settles. The timer never outlives the race, so it
 * keeps no process alive.
 */

export type Raced<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'timed-out' };

/** The work itself, or a function that starts it and stops at its next checkpoint once `signal` is aborted. */
export type Work<T> = Promise<T> | ((signal: AbortSignal) => Promise<T>);

/** Settles with what the work did, or `timed-out` once `deadline` (epoch milliseconds) has passed. */
export async function raceDeadline<T>(work: Work<T>, deadline: number, now: () => number = Date.now): Promise<Raced<T>> {
  const abandon = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Raced<T>>((resolve) => {
    timer = setTimeout(() => {
      abandon.abort();
      resolve({ kind: 'timed-out' });
    }, Math.max(0, deadline - now()));
  });
  let started: Promise<T>;
  try {
    started = typeof work === 'function' ? work(abandon.signal) : work;
  } catch (error) {
    // A function that throws before it returns a promise failed like one that rejects.
    started = Promise.reject(error);
  }
  try {
    return await Promise.race([
      started.then(
        (value): Raced<T> => ({ kind: 'done', value }),
        (error: unknown): Raced<T> => ({ kind: 'failed', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

/** The work's value, or its error, or DeadlineExceededError once `deadline` has passed. */
export async function withDeadline<T>(work: Work<T>, deadline: number, now: () => number = Date.now): Promise<T> {
  const raced = await raceDeadline(work, deadline, now);
  if (raced.kind === 'done') return raced.value;
  if (raced.kind === 'failed') throw raced.error;
  throw new DeadlineExceededError('deadline exceeded');
}
