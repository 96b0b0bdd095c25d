import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { Confirm, ErrorNote } from '../ui';

/** Operators: the failure queue (events a handler could not process), and redrive. */

/** GET /failure-queue: the depth, the oldest age of the messages seen, and those messages (a sample, not consumed). */
interface QueueAnswer {
  count: number;
  oldestAgeSeconds: number | null;
  messages: Array<{ messageId: string; sentAt?: string; origin?: string; error?: string; body: string }>;
}

export function QueuePage({ api }: { api: Api }) {
  const [queue, setQueue] = useState<QueueAnswer>();
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<string>();
  const load = () => api.get<QueueAnswer>('/failure-queue').then(setQueue, (e: Error) => setError(e.message));
  useEffect(() => void load(), []);
  const redrive = async () => {
    setConfirming(false);
    try {
      const answer = await api.post<{ redriven: Array<{ messageId: string; to: string }>; kept: Array<{ messageId: string; why: string }> }>('/failure-queue/redrive', {});
      setResult(`redriven ${answer.redriven.length}${answer.kept.length ? `, kept ${answer.kept.length} (${answer.kept.map((k) => k.why).join('; ')})` : ''}`);
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section>
      <h2>Failure queue</h2>
      {error && <ErrorNote message={error} />}
      {result && <p>{result}</p>}
      {queue && (
        <>
          <p id="queue-count">
            <strong>{queue.count}</strong> message{queue.count === 1 ? '' : 's'}
            {queue.oldestAgeSeconds !== null && queue.count > 0 ? `, the oldest ${Math.round(queue.oldestAgeSeconds / 60)} min old` : ''}
          </p>
          <button disabled={queue.count === 0} onClick={() => setConfirming(true)}>
            Redrive
          </button>
          <ul>
            {queue.messages.map((m) => (
              <li>
                <small>{m.sentAt ?? ''}</small> <strong>{m.origin ?? 'message'}</strong> {m.error ?? ''} <details><summary>body</summary><pre>{m.body.slice(0, 2000)}</pre></details>
              </li>
            ))}
          </ul>
        </>
      )}
      {confirming && (
        <Confirm title="Redrive the failure queue?" confirmLabel="Redrive" onConfirm={() => void redrive()} onCancel={() => setConfirming(false)}>
          <p>Each event goes back to the function that failed it.</p>
        </Confirm>
      )}
    </section>
  );
}
