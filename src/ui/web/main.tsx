/**
 * The web UI's front-end: preact (3 KB) for rendering, the browser's EventSource for the live list,
 * xterm.js for the terminal. Hash routes: #/ VMs, #/vm/NAME, #/artifacts, #/doctor.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import '@xterm/xterm/css/xterm.css';
import './app.css';
import { ArtifactsPage } from './artifacts.js';
import { DoctorPage } from './doctor.js';
import { useLive } from './live.js';
import { VmPage } from './vm.js';
import { VmsPage } from './vms.js';

function useHash(): string {
  const [h, setH] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setH(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return h;
}

function App() {
  const hash = useHash();
  const live = useLive();
  const vmMatch = /^#\/vm\/(.+)$/.exec(hash);
  const page = vmMatch ? 'vm' : hash === '#/artifacts' ? 'artifacts' : hash === '#/doctor' ? 'doctor' : 'vms';
  const link = (href: string, label: string, key: string) => (
    <a href={href} class={page === key ? 'current' : ''} aria-current={page === key ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header>
        <a class="brand" href="#/">banger</a>
        <nav aria-label="main">
          {link('#/', 'VMs', 'vms')}
          {link('#/artifacts', 'Images & snapshots', 'artifacts')}
          {link('#/doctor', 'Doctor', 'doctor')}
        </nav>
        <span class={`conn ${live.connected ? 'ok' : 'down'}`} title="live connection to bangerd">
          {live.connected ? 'live' : 'reconnecting…'}
        </span>
      </header>
      <main>
        {page === 'vms' && <VmsPage live={live} />}
        {page === 'vm' && <VmPage live={live} name={decodeURIComponent(vmMatch![1]!)} />}
        {page === 'artifacts' && <ArtifactsPage live={live} />}
        {page === 'doctor' && <DoctorPage />}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the server's "Loading" line
render(<App />, root);
