/**
 * Work raced against a point in time: the pre-provisioning hook's 3-second decision, a custom resource's
 * answer before the Lambda limit. The work is not cancelled (a promise cannot be); callers that must stop
 * it pass an AbortSignal of their own. The timer never outlives the race, so it keeps no process alive.
 */

export type Raced<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: unknown } | { kind: 'timed-out' };

/** Settles with what the work did, or `timed-out` once `deadline` (epoch milliseconds) has passed. */
export async function raceDeadline<T>(work: Promise<T>, deadline: number, now: () => number = Date.now): Promise<Raced<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Raced<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timed-out' }), Math.max(0, deadline - now()));
  });
  try {
    return await Promise.race([
      work.then(
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
export async function withDeadline<T>(work: Promise<T>, deadline: number, now: () => number = Date.now): Promise<T> {
  const raced = await raceDeadline(work, deadline, now);
  if (raced.kind === 'done') return raced.value;
  if (raced.kind === 'failed') throw raced.error;
  throw new DeadlineExceededError('deadline exceeded');
}
