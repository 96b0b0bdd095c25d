import '@picocss/pico/css/pico.min.css';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiFor, type Api } from './api';
import { completeSignIn, currentSession, signIn, signOut, type Session } from './auth';
import { loadConfig, type ConsoleConfig } from './config';
import { DeviceDetail, DeviceList } from './pages/devices';
import { HomePage } from './pages/home';
import { ImportPage } from './pages/import';
import { ProvisionPage } from './pages/provision';
import { QueuePage } from './pages/queue';
import { ErrorNote } from './ui';

/**
 * The provisioning console: technicians provision devices; operators also run the fleet. The navigation
 * follows the groups of the signed-in user's token; the API checks them again on every call.
 */

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

/** The decisions page, loaded when first opened (it brings the chart library). */
function LazyDecisions({ api }: { api: Api }) {
  const [Page, setPage] = useState<typeof import('./pages/decisions').DecisionsPage>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    import('./pages/decisions').then((m) => setPage(() => m.DecisionsPage), (e: Error) => setError(e.message));
  }, []);
  if (error) return <ErrorNote message={`The decisions page did not load: ${error}`} />;
  return Page ? <Page api={api} /> : <p aria-busy="true">Loading…</p>;
}

function App({ config, initial }: { config: ConsoleConfig; initial: Session | undefined }) {
  const [session, setSession] = useState(initial);
  const hash = useHash();
  const api = useMemo(() => session && apiFor(config, session, () => setSession(undefined)), [session]);
  const operator = session?.groups.includes('operators') ?? false;
  const technician = operator || (session?.groups.includes('technicians') ?? false);

  if (!session || !api) {
    return (
      <article class="sign-in">
        <h1>iot-provisioner</h1>
        <p>Sign in with your {config.stage} account to provision devices or run the fleet.</p>
        {config.notice && <p><small>{config.notice}</small></p>}
        <button id="sign-in" onClick={() => void signIn(config)}>
          Sign in
        </button>
      </article>
    );
  }

  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(search);
  let page;
  if (!technician) page = <ErrorNote message="Your account is in neither the technicians nor the operators group: ask an operator to add you." />;
  else if (path.startsWith('/device/') && operator) page = <DeviceDetail api={api} deviceId={decodeURIComponent(path.slice('/device/'.length))} />;
  else if (path === '/devices' && operator) page = <DeviceList api={api} query={query} />;
  else if (path === '/import' && operator) page = <ImportPage api={api} />;
  else if (path === '/decisions' && operator) page = <LazyDecisions api={api} />;
  else if (path === '/queue' && operator) page = <QueuePage api={api} />;
  // Operators start on their home (the metrics); technicians on the provision page.
  else if (path !== '/provision' && operator) page = <HomePage api={api} hours={query.get('hours') ?? '24'} />;
  else page = <ProvisionPage api={api} config={config} />;

  return (
    <>
      <nav>
        <ul>
          <li>
            <strong>iot-provisioner</strong> <small>{config.stage}</small>
          </li>
        </ul>
        <ul class="links">
          {operator && <li><a href="#/home">Home</a></li>}
          <li><a href="#/provision">Provision</a></li>
          {operator && (
            <>
              <li><a href="#/devices">Devices</a></li>
              <li><a href="#/decisions">Decisions</a></li>
              <li><a href="#/import">Import</a></li>
              <li><a href="#/queue">Queue</a></li>
            </>
          )}
          <li>
            <a href="#" id="sign-out" title={session.email ?? session.username ?? ''} onClick={(e) => (e.preventDefault(), signOut(config))}>
              Sign out
            </a>
          </li>
        </ul>
      </nav>
      <p class="who">
        <small>
          {session.email ?? session.username} · {session.groups.join(', ') || 'no group'}
        </small>
      </p>
      {page}
    </>
  );
}

async function start() {
  const root = document.getElementById('app')!;
  try {
    const config = await loadConfig();
    const session = (await completeSignIn(config)) ?? currentSession();
    render(<App config={config} initial={session} />, root);
  } catch (error) {
    render(<ErrorNote message={`The console cannot start: ${(error as Error).message}`} />, root);
  }
}

void start();
