import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api';
import { ErrorNote } from '../ui';

/**
 * Operators' home: the stage's provisioning metrics over the last hour, day or week (GET /metrics, read from
 * CloudWatch) — decisions admitted and refused by flow and reason, activations, claims vended, the hook's
 * latency against AWS IoT's 5 s, lifecycle actions, retirements, expiry findings, cold starts — and the
 * failure queue's depth.
 */

type Row<K extends string> = Record<K, string> & { count: number };

/** GET /metrics */
export interface MetricsAnswer {
  since: string;
  until: string;
  hours: number;
  decisions: Array<Row<'flow' | 'outcome' | 'reason'>>;
  activations: Array<Row<'flow'>>;
  claimsVended: number;
  hookLatencyMs: { p50: number | null; p99: number | null; decisions: number; budget: number; deadline: number };
  vendActions: Array<Row<'action' | 'outcome'>>;
  lifecycleActions: Array<Row<'action' | 'outcome'>>;
  retirements: Array<Row<'outcome'>>;
  expiryFindings: Array<Row<'reason'>>;
  coldStarts: Array<Row<'function'>>;
}

const WINDOWS = [
  { hours: '1', label: '1 h' },
  { hours: '24', label: '24 h' },
  { hours: '168', label: '7 d' },
];

const total = (rows: Array<{ count: number }>) => rows.reduce((sum, r) => sum + r.count, 0);

function Tile({ id, label, value, note, tone }: { id: string; label: string; value: string | number; note?: string; tone?: 'good' | 'bad' | 'warn' }) {
  return (
    <article class={`tile${tone ? ` tile-${tone}` : ''}`} id={id}>
      <small>{label}</small>
      <strong>{value}</strong>
      {note && <small>{note}</small>}
    </article>
  );
}

/** A small table of rows: their keys as columns, then the count; nothing when there are none. */
function Counts<K extends string>({ id, title, rows, columns }: { id: string; title: string; rows: Array<Row<K>>; columns: K[] }) {
  return (
    <section id={id}>
      <h4>{title}</h4>
      {rows.length === 0 ? (
        <p><small>none</small></p>
      ) : (
        <div class="overflow-auto">
          <table class="striped compact">
            <tbody>
              {rows.map((r) => (
                <tr>
                  {columns.map((c) => <td>{r[c]}</td>)}
                  <td class="count">{r.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Decisions by flow: admitted (reason `admitted`) and refused, with the refusals by reason. */
function Decisions({ rows }: { rows: MetricsAnswer['decisions'] }) {
  const flows = [...new Set(rows.map((r) => r.flow))].sort();
  return (
    <section id="home-decisions">
      <h4>Decisions</h4>
      {flows.length === 0 ? (
        <p><small>none</small></p>
      ) : (
        <div class="overflow-auto">
          <table class="striped compact">
            <thead>
              <tr><th>flow</th><th class="count">admitted</th><th class="count">refused</th><th>refusals by reason</th></tr>
            </thead>
            <tbody>
              {flows.map((flow) => {
                const ofFlow = rows.filter((r) => r.flow === flow);
                const admitted = total(ofFlow.filter((r) => r.reason === 'admitted'));
                const refusals = new Map<string, number>();
                for (const r of ofFlow.filter((r) => r.reason !== 'admitted')) refusals.set(r.reason, (refusals.get(r.reason) ?? 0) + r.count);
                return (
                  <tr data-flow={flow}>
                    <td>{flow}</td>
                    <td class="count admitted">{admitted}</td>
                    <td class="count refused">{total([...refusals.values()].map((count) => ({ count })))}</td>
                    <td>{[...refusals].sort(([, a], [, b]) => b - a).map(([reason, count]) => `${reason} ${count}`).join(', ') || '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function latencyTone(p99: number | null, deadline: number): 'good' | 'warn' | 'bad' | undefined {
  if (p99 === null) return undefined;
  return p99 >= deadline ? 'bad' : p99 >= deadline * 0.8 ? 'warn' : 'good';
}

export function HomePage({ api, hours }: { api: Api; hours: string }) {
  const [answer, setAnswer] = useState<MetricsAnswer>();
  const [queue, setQueue] = useState<{ count: number; oldestAgeSeconds: number | null }>();
  const [error, setError] = useState<string>();
  const [queueError, setQueueError] = useState<string>();
  const chosen = WINDOWS.some((w) => w.hours === hours) ? hours : '24';
  useEffect(() => {
    setAnswer(undefined);
    setError(undefined);
    api.get<MetricsAnswer>('/metrics', { hours: chosen }).then(setAnswer, (e: Error) => setError(e.message));
    api.get<{ count: number; oldestAgeSeconds: number | null }>('/failure-queue').then(setQueue, (e: Error) => setQueueError(e.message));
  }, [chosen]);

  const admitted = answer ? total(answer.decisions.filter((d) => d.reason === 'admitted')) : 0;
  const refused = answer ? total(answer.decisions) - admitted : 0;
  const latency = answer?.hookLatencyMs;
  const ms = (value: number | null | undefined) => (value === null || value === undefined ? '—' : `${Math.round(value)} ms`);

  return (
    <section id="home">
      <h2>Home</h2>
      <div role="group" class="windows" aria-label="window">
        {WINDOWS.map((w) => (
          <a href={`#/home?hours=${w.hours}`} role="button" class={w.hours === chosen ? '' : 'outline'} aria-current={w.hours === chosen ? 'true' : undefined}>
            {w.label}
          </a>
        ))}
      </div>
      {error && <ErrorNote message={`The metrics did not load: ${error}`} />}
      {!answer && !error && <p aria-busy="true">Loading…</p>}
      {answer && latency && (
        <>
          <p><small>{new Date(answer.since).toLocaleString()} – {new Date(answer.until).toLocaleString()}, from CloudWatch</small></p>
          <div class="tiles">
            <Tile id="tile-admitted" label="admitted" value={admitted} tone={admitted ? 'good' : undefined} />
            <Tile id="tile-refused" label="refused" value={refused} tone={refused ? 'bad' : undefined} />
            <Tile id="tile-activations" label="activations" value={total(answer.activations)} note={answer.activations.map((a) => `${a.flow} ${a.count}`).join(', ') || undefined} />
            <Tile id="tile-claims" label="claims vended" value={answer.claimsVended} />
            <Tile
              id="tile-latency"
              label="hook latency p50 / p99"
              value={latency.p50 === null || latency.p99 === null ? '—' : `${Math.round(latency.p50)} / ${Math.round(latency.p99)} ms`}
              note={`${latency.decisions} decisions; deadline ${latency.deadline / 1000} s, AWS IoT waits ${latency.budget / 1000} s`}
              tone={latencyTone(latency.p99, latency.deadline)}
            />
            <Tile
              id="tile-queue"
              label="failure queue"
              value={queue ? queue.count : queueError ? '?' : '…'}
              note={queueError ? queueError : queue && queue.count > 0 && queue.oldestAgeSeconds !== null ? `oldest ${Math.round(queue.oldestAgeSeconds / 60)} min` : undefined}
              tone={queue ? (queue.count > 0 ? 'bad' : 'good') : undefined}
            />
          </div>
          {latency.p99 !== null && (
            <div class="budget" title="the hook's p99 against AWS IoT's 5 s">
              <div class="budget-bar">
                <span class={`budget-fill tone-${latencyTone(latency.p99, latency.deadline)}`} style={{ width: `${Math.min(100, (latency.p99 / latency.budget) * 100)}%` }} />
                <span class="budget-deadline" style={{ left: `${(latency.deadline / latency.budget) * 100}%` }} />
              </div>
              <small>p99 {ms(latency.p99)} of {latency.budget / 1000} s (the mark: the {latency.deadline / 1000} s deadline)</small>
            </div>
          )}
          <Decisions rows={answer.decisions} />
          <div class="grid-2">
            <Counts id="home-lifecycle" title="Lifecycle actions" rows={answer.lifecycleActions} columns={['action', 'outcome']} />
            <Counts id="home-vending" title="Vending actions" rows={answer.vendActions} columns={['action', 'outcome']} />
            <Counts id="home-retirements" title="Retirements" rows={answer.retirements} columns={['outcome']} />
            <Counts id="home-expiry" title="Expiry findings" rows={answer.expiryFindings} columns={['reason']} />
            <Counts id="home-cold-starts" title="Cold starts" rows={answer.coldStarts.map((c) => ({ ...c, function: c.function.replace(/^.*-/, '') }))} columns={['function']} />
          </div>
        </>
      )}
    </section>
  );
}
