import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { Api } from '../api';
import { ErrorNote, when } from '../ui';

/** Operators: the recent decisions with their reasons, and admitted vs refused per reason, per hour. */

interface Decision {
  at: string;
  deviceId: string;
  flow: 'jitr' | 'fleet' | 'vending' | 'other';
  outcome: 'admitted' | 'refused';
  reason?: string;
}

/** GET /decisions: newest first; the chart (per hour: admitted, refused by reason) with the first page. */
interface DecisionsAnswer {
  since: string;
  until: string;
  items: Decision[];
  nextToken?: string;
  chart?: { hours: Array<{ hour: string; admitted: number; refused: Record<string, number> }>; truncated: boolean };
}

type Hourly = Array<{ hour: string; counts: Record<string, number> }>;

function Chart({ hourly, since, until }: { hourly: Hourly; since: string; until: string }) {
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
        // The whole window on the x axis (one hour of data would otherwise be stretched over years).
        scales: { x: { time: true, range: [Date.parse(since) / 1000, Date.parse(until) / 1000] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [
          {},
          ...series.map((label, i) => ({
            label,
            stroke: palette[i % palette.length]!,
            fill: `${palette[i % palette.length]!}33`,
            width: 2,
            points: { show: true, size: 6 },
          })),
        ],
        axes: [{}, { size: 40, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] }],
      },
      data,
      box.current,
    );
    return () => plot.destroy();
  }, [hourly, since, until]);
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
      {answer?.chart && (
        <Chart since={answer.since} until={answer.until} hourly={answer.chart.hours.map((h) => ({ hour: h.hour, counts: { admitted: h.admitted, ...h.refused } }))} />
      )}
      {answer?.chart?.truncated && <p><small>The chart counts the most recent decisions only.</small></p>}
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
                  <td>{d.flow}</td>
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
