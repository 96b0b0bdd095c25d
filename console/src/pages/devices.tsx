import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import { Confirm, ErrorNote, shortId, when } from '../ui';

/** Operators: the device list (search by id prefix, filter by state, paged by the server) and a device's page. */

export const STATES = ['unknown', 'allowed', 'provisioned', 'suspended', 'blocked', 'retired'] as const;

interface DeviceRow {
  deviceId: string;
  state: string;
  certificateId?: string;
  thingName?: string;
  bindingState?: string;
  notAfter?: string;
  updatedAt?: string;
}

export function DeviceList({ api, query }: { api: Api; query: URLSearchParams }) {
  const [prefix, setPrefix] = useState(query.get('prefix') ?? '');
  const [state, setState] = useState(query.get('state') ?? '');
  const [pages, setPages] = useState<string[]>([]);
  const [page, setPage] = useState<{ items: DeviceRow[]; nextToken?: string }>();
  const [error, setError] = useState<string>();

  const load = async (nextToken?: string) => {
    setError(undefined);
    try {
      setPage(await api.get('/devices', { prefix, state, limit: '25', nextToken }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => void load(), []);

  const search = (event: Event) => {
    event.preventDefault();
    setPages([]);
    location.hash = `#/devices?${new URLSearchParams({ ...(prefix ? { prefix } : {}), ...(state ? { state } : {}) })}`;
    void load();
  };

  return (
    <section>
      <h2>Devices</h2>
      <form onSubmit={search} role="search">
        <input name="prefix" placeholder="device id or prefix" value={prefix} onInput={(e) => setPrefix((e.target as HTMLInputElement).value.trim())} />
        <select name="state" value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)} aria-label="state">
          <option value="">any state</option>
          {STATES.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      {error && <ErrorNote message={error} />}
      {page && (
        <>
          <div class="overflow-auto">
            <table class="striped" id="devices">
              <thead>
                <tr>
                  <th>device</th>
                  <th>state</th>
                  <th>certificate</th>
                  <th>not after</th>
                  <th>updated</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((d) => (
                  <tr>
                    <td>
                      <a href={`#/device/${encodeURIComponent(d.deviceId)}`}>{d.deviceId}</a>
                    </td>
                    <td>
                      <mark class={`state-${d.state}`}>{d.state}</mark>
                    </td>
                    <td>
                      <code>{shortId(d.certificateId)}</code>
                    </td>
                    <td>{d.notAfter ? d.notAfter.slice(0, 10) : '—'}</td>
                    <td>{when(d.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {page.items.length === 0 && <p>No device matches.</p>}
          <div role="group">
            <button class="secondary" disabled={pages.length === 0} onClick={() => { const previous = pages.slice(0, -1); setPages(previous); void load(previous.at(-1)); }}>
              Previous
            </button>
            <button class="secondary" disabled={!page.nextToken} onClick={() => { setPages([...pages, page.nextToken!]); void load(page.nextToken); }}>
              Next
            </button>
          </div>
        </>
      )}
    </section>
  );
}

interface TimelineEvent {
  at: string;
  type: string;
  actor?: { kind: string; id: string };
  reason?: string;
  detail?: string;
  certificateId?: string;
}

/** GET /devices/{deviceId}: the registry entry and its state, the certificate in AWS IoT, the thing, the timeline. */
interface DevicePage {
  deviceId: string;
  state: string;
  entry: Record<string, unknown> | null;
  certificate: { certificateId: string; status: string; notBefore?: string; notAfter?: string } | null;
  thing: { thingName: string; thingGroups: string[]; thingTypeName?: string } | null;
  timeline: { events: TimelineEvent[]; nextToken?: string };
}

interface Diagnosis {
  code: string;
  sentence: string;
  fix: string;
  evidence?: string[];
}

/** The registry's certificate rotation (issue 14; shared/rotation/model.ts), as the device page shows it. */
interface RotationView {
  jobId: string;
  state: string;
  reason?: string;
  newCertificateId?: string;
  previousCertificateId?: string;
  updatedAt?: string;
}

function rotationOf(entry: Record<string, unknown> | null): RotationView | undefined {
  const rotation = entry?.rotation as RotationView | undefined;
  return rotation && typeof rotation.jobId === 'string' && typeof rotation.state === 'string' ? rotation : undefined;
}

function RotationCard({ rotation }: { rotation: RotationView }) {
  return (
    <article id="rotation">
      <header>Certificate rotation</header>
      <p>
        <code>{rotation.jobId}</code> <mark class={`rotation-${rotation.state}`}>{rotation.state}</mark>
        {rotation.reason ? ` (${rotation.reason})` : ''}
        <br />
        <small>
          {rotation.newCertificateId ? `new ${shortId(rotation.newCertificateId)}` : 'no new certificate yet'}
          {rotation.previousCertificateId ? `, previous ${shortId(rotation.previousCertificateId)}` : ''}
          {rotation.updatedAt ? ` · ${rotation.updatedAt.slice(0, 19).replace('T', ' ')}` : ''}
        </small>
      </p>
    </article>
  );
}

type Action = 'allow' | 'block' | 'suspend' | 'resume' | 'retire' | 'reprovision';
const ACTIONS: Array<{ action: Action; label: string; danger?: boolean; explain: string }> = [
  { action: 'allow', label: 'Allow', explain: 'The device may provision (again, after a refurbishment).' },
  { action: 'block', label: 'Block', danger: true, explain: 'The device may no longer provision.' },
  { action: 'suspend', label: 'Suspend', danger: true, explain: 'Its certificate goes INACTIVE and its thing to quarantine: it cannot connect until resumed.' },
  { action: 'resume', label: 'Resume', explain: 'Its certificate goes ACTIVE again and its thing back to its groups.' },
  { action: 'retire', label: 'Retire', danger: true, explain: 'Its certificate is REVOKED and detached, its thing deleted; the history stays.' },
  { action: 'reprovision', label: 'Reprovision', explain: 'One new certificate may replace the bound one.' },
];

export function DeviceDetail({ api, deviceId }: { api: Api; deviceId: string }) {
  const [page, setPage] = useState<DevicePage>();
  const [why, setWhy] = useState<Diagnosis>();
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState<(typeof ACTIONS)[number]>();
  const [result, setResult] = useState<string>();
  const path = `/devices/${encodeURIComponent(deviceId)}`;

  const load = async () => {
    try {
      setPage(await api.get<DevicePage>(path));
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? `${deviceId} is not in the registry.` : (e as Error).message);
    }
  };
  useEffect(() => void load(), [deviceId]);

  const run = async (action: Action) => {
    setConfirming(undefined);
    setError(undefined);
    try {
      const answer = await api.post<{ outcome: 'done' | 'unchanged'; state: string }>(`${path}/actions`, { action });
      // The page first, then the result: "now suspended" never shows beside the state from before the action.
      await load();
      setResult(`${action}: ${answer.outcome}, now ${answer.state}`);
    } catch (e) {
      setError(e instanceof ApiError ? `${action} refused: ${e.message}${e.reason ? ` (${e.reason})` : ''}` : (e as Error).message);
    }
  };

  const diagnose = async () => {
    try {
      setWhy((await api.get<{ diagnosis: Diagnosis }>(`${path}/why`)).diagnosis);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const rotation = page ? rotationOf(page.entry) : undefined;
  return (
    <section>
      <h2>
        <a href="#/devices">Devices</a> / {deviceId}
      </h2>
      {error && <ErrorNote message={error} />}
      {result && <p id="action-result">{result}</p>}
      {page && (
        <>
          <div class="grid">
            <article>
              <header>State</header>
              <p>
                <mark id="state" class={`state-${page.state}`}>{page.state}</mark>
              </p>
            </article>
            <article>
              <header>Certificate</header>
              {page.certificate ? (
                <p>
                  <code title={page.certificate.certificateId}>{shortId(page.certificate.certificateId)}</code> {page.certificate.status ?? ''}
                  <br />
                  <small>
                    valid {page.certificate.notBefore?.slice(0, 10) ?? '?'} to {page.certificate.notAfter?.slice(0, 10) ?? '?'}
                  </small>
                </p>
              ) : (
                <p>none bound</p>
              )}
            </article>
            <article>
              <header>Thing</header>
              <p>{page.thing ? `${page.thing.thingName}${page.thing.thingGroups.length ? ` in ${page.thing.thingGroups.join(', ')}` : ''}` : '—'}</p>
            </article>
            {rotation && <RotationCard rotation={rotation} />}
          </div>
          <div role="group" class="actions">
            {ACTIONS.map((a) => (
              <button class={a.danger ? 'outline danger' : 'outline'} onClick={() => setConfirming(a)}>
                {a.label}
              </button>
            ))}
          </div>
          <button class="secondary" id="why" onClick={diagnose}>
            Why can’t it connect?
          </button>
          {why && (
            <article id="diagnosis">
              <header>
                <strong>{why.code}</strong>
              </header>
              <p>{why.sentence}</p>
              <p>
                <strong>Fix:</strong> {why.fix}
              </p>
              {why.evidence && (
                <details>
                  <summary>Evidence</summary>
                  <pre>{why.evidence.join('\n')}</pre>
                </details>
              )}
            </article>
          )}
          <h3>Timeline</h3>
          <ol id="timeline" class="timeline">
            {page.timeline.events.map((t) => (
              <li>
                <time>{when(t.at)}</time> <strong>{t.type}</strong>
                {t.reason ? ` (${t.reason})` : ''} {t.actor ? <small>by {t.actor.kind} {t.actor.id}</small> : null}
                {t.detail ? <div><small>{t.detail}</small></div> : null}
              </li>
            ))}
          </ol>
        </>
      )}
      {confirming && (
        <Confirm title={`${confirming.label} ${deviceId}?`} confirmLabel={confirming.label} danger={confirming.danger} onConfirm={() => void run(confirming.action)} onCancel={() => setConfirming(undefined)}>
          <p>{confirming.explain}</p>
        </Confirm>
      )}
    </section>
  );
}
