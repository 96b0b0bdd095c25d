import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { Confirm, ErrorNote } from '../ui';

/** Operators: the failure queue (events a handler could not process), and redrive. */

interface QueueAnswer {
  count: number;
  oldestAgeSeconds?: number;
  messages: Array<{ messageId?: string; sentAt?: string; source?: string; summary?: string; body?: unknown }>;
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
      const answer = await api.post<Record<string, unknown>>('/failure-queue/redrive', {});
      setResult(`redrive: ${JSON.stringify(answer)}`);
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
            {queue.oldestAgeSeconds !== undefined && queue.count > 0 ? `, the oldest ${Math.round(queue.oldestAgeSeconds / 60)} min old` : ''}
          </p>
          <button disabled={queue.count === 0} onClick={() => setConfirming(true)}>
            Redrive
          </button>
          <ul>
            {queue.messages.map((m) => (
              <li>
                <small>{m.sentAt ?? ''}</small> {m.source ?? ''} {m.summary ?? <code>{JSON.stringify(m.body ?? m).slice(0, 200)}</code>}
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
