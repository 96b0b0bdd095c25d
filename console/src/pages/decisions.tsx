import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { Api } from '../api';
import { ErrorNote, when } from '../ui';

/** Operators: the recent decisions with their reasons, and admitted vs refused per reason, per hour. */

interface Decision {
  at: string;
  deviceId?: string;
  flow?: string;
  outcome: string;
  reason?: string;
  actor?: { kind: string; id: string };
}

interface DecisionsAnswer {
  items: Decision[];
  nextToken?: string;
  /** Per hour (ISO, the hour's start): counts by "admitted" and by refusal reason. */
  hourly?: Array<{ hour: string; counts: Record<string, number> }>;
}

function Chart({ hourly }: { hourly: NonNullable<DecisionsAnswer['hourly']> }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || hourly.length === 0) return;
    const series = [...new Set(hourly.flatMap((h) => Object.keys(h.counts)))].sort((a, b) => (a === 'admitted' ? -1 : b === 'admitted' ? 1 : a.localeCompare(b)));
    const palette = ['#2e7d32', '#c62828', '#ef6c00', '#6a1b9a', '#1565c0', '#00838f', '#ad1457', '#4e342e'];
    const data: uPlot.AlignedData = [hourly.map((h) => Date.parse(h.hour) / 1000), ...series.map((s) => hourly.map((h) => h.counts[s] ?? 0))];
    const plot = new uPlot(
      {
        width: box.current.clientWidth,
        height: 220,
        series: [{}, ...series.map((label, i) => ({ label, stroke: palette[i % palette.length]!, width: 2 }))],
        axes: [{}, { size: 40 }],
      },
      data,
      box.current,
    );
    return () => plot.destroy();
  }, [hourly]);
  return <div ref={box} id="decisions-chart" />;
}

export function DecisionsPage({ api }: { api: Api }) {
  const [answer, setAnswer] = useState<DecisionsAnswer>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.get<DecisionsAnswer>('/decisions', { limit: '50' }).then(setAnswer, (e: Error) => setError(e.message));
  }, []);
  return (
    <section>
      <h2>Decisions</h2>
      {error && <ErrorNote message={error} />}
      {answer?.hourly && <Chart hourly={answer.hourly} />}
      {answer && (
        <div class="overflow-auto">
          <table class="striped" id="decisions">
            <thead>
              <tr>
                <th>when</th>
                <th>device</th>
                <th>flow</th>
                <th>outcome</th>
                <th>reason</th>
              </tr>
            </thead>
            <tbody>
              {answer.items.map((d) => (
                <tr>
                  <td>{when(d.at)}</td>
                  <td>{d.deviceId ? <a href={`#/device/${encodeURIComponent(d.deviceId)}`}>{d.deviceId}</a> : '—'}</td>
                  <td>{d.flow ?? '—'}</td>
                  <td>{d.outcome}</td>
                  <td>{d.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
