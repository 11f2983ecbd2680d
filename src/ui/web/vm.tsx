/** One VM: overview (stats charts, ports), serial console, terminal, workspace (prepare, diff, apply). */
import type { ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { VmPorts } from '../../api/network.js';
import { TaskLog, useTasks } from './actions.js';
import { call, fmtAge, fmtBytes } from './api.js';
import { Chart } from './chart.js';
import type { Live } from './live.js';
import { addresses, VmActions } from './vms.js';
import { WorkspacePanel } from './workspace.js';

const TABS = ['overview', 'console', 'terminal', 'workspace'] as const;
type Tab = (typeof TABS)[number];

/** Terminal escape sequences and other control bytes from the guest, removed before display. */
const stripControls = (s: string) => s.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]P^_][^\x07\x1b]*(\x07|\x1b\\)?|\x1b.|[\x00-\x08\x0b-\x1f\x7f]/g, '');

function Console({ name }: { name: string }) {
  const [text, setText] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setText('');
    const es = new EventSource(`/ui/vms/${encodeURIComponent(name)}/console`);
    es.onmessage = (m) => setText((t) => (t + stripControls(JSON.parse(m.data as string) as string)).slice(-200_000));
    return () => es.close();
  }, [name]);
  useEffect(() => {
    const el = pre.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <pre class="console" ref={pre} tabIndex={0} aria-label="serial console (follows as the guest writes)">
      {text || '(no console output yet)'}
    </pre>
  );
}

/** xterm.js is loaded when the terminal tab first opens (it is most of the page's weight). */
function LazyTerminal({ name }: { name: string }) {
  const [T, setT] = useState<ComponentType<{ name: string }> | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    import('./terminal.js').then((m) => setT(() => m.Terminal), (e: Error) => setErr(e.message));
  }, []);
  if (err) return <p class="error">{err}</p>;
  return T ? <T name={name} /> : <p class="muted">Loading the terminal…</p>;
}

function Ports({ name, running }: { name: string; running: boolean }) {
  const [ports, setPorts] = useState<VmPorts | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = () => {
    setErr(null);
    call('vm.ports', { name }).then(setPorts, (e: Error) => setErr(e.message));
  };
  useEffect(() => {
    if (running) load();
  }, [name, running]);
  if (!running) return <p class="muted">Listening ports show while the VM runs.</p>;
  return (
    <div>
      <h3>
        Listening ports <button class="link" onClick={load}>refresh</button>
      </h3>
      {err && <p class="error">{err}</p>}
      {ports && (
        <div class="table-wrap">
        <table class="ports">
          <thead>
            <tr>
              <th>Port</th>
              <th>Process</th>
              <th>Reachable at</th>
            </tr>
          </thead>
          <tbody>
            {ports.ports.map((p) => (
              <tr key={p.port}>
                <td>{p.port}</td>
                <td>{p.process ?? '–'}</td>
                <td>
                  {p.url ? (
                    <a href={p.url} target="_blank" rel="noreferrer noopener">
                      {p.url}
                    </a>
                  ) : (
                    (p.endpoint ?? 'not forwarded')
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </div>
  );
}

export function VmPage({ live, name }: { live: Live; name: string }) {
  const [tab, setTab] = useState<Tab>('overview');
  const { tasks, run, dismiss } = useTasks();
  const vm = live.vms.find((v) => v.name === name);
  if (!vm) {
    return (
      <>
        <h1>{name}</h1>
        <TaskLog tasks={tasks} dismiss={dismiss} />
        <p class="empty">{live.connected ? `No VM named ${name} (deleted?).` : 'Connecting…'}</p>
        <a href="#/">Back to the list</a>
      </>
    );
  }
  const hist = live.history.get(name) ?? [];
  const s = live.stats.get(name);
  const running = vm.state === 'running';
  return (
    <>
      <h1>
        {vm.name} <span class={`state ${vm.state}`}>{vm.state}</span>
      </h1>
      <VmActions vm={vm} run={run} onDeleted={() => (location.hash = '#/')} />
      <TaskLog tasks={tasks} dismiss={dismiss} />
      <div class="tabs" role="tablist">
        {TABS.map((t) => (
          <button role="tab" aria-selected={tab === t} class={tab === t ? 'current' : ''} onClick={() => setTab(t)} key={t}>
            {t[0]!.toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      {tab === 'overview' && (
        <section class="overview">
          <dl class="facts">
            <dt>Image</dt>
            <dd>{vm.image}</dd>
            <dt>Kernel</dt>
            <dd>{vm.kernel}</dd>
            <dt>Size</dt>
            <dd>
              {vm.vcpu} vCPU, {vm.memoryMib} MiB, disk {fmtBytes(vm.diskSizeBytes)}
              {s?.diskUsedBytes != null ? ` (${fmtBytes(s.diskUsedBytes)} used)` : ''}
            </dd>
            <dt>Network</dt>
            <dd>
              {vm.network.mode}
              {vm.network.egress ? '' : ', no egress'} {addresses(vm).join(', ')}
            </dd>
            <dt>Workspace</dt>
            <dd>{vm.workspace ? `${vm.workspace.hostSource} → ${vm.workspace.guestPath} (${vm.workspace.headCommit.slice(0, 10)})` : 'none'}</dd>
            <dt>Age</dt>
            <dd>{fmtAge(vm.createdAt)}</dd>
            {vm.autoStopAt && (
              <>
                <dt>Auto-stop</dt>
                <dd>{new Date(vm.autoStopAt).toLocaleString()}</dd>
              </>
            )}
          </dl>
          <div class="charts">
            <Chart label="CPU" points={hist.map((h) => h.cpu)} format={(n) => `${n.toFixed(1)}%`} max={100} />
            <Chart label="Memory (RSS)" points={hist.map((h) => h.rss)} format={fmtBytes} max={vm.memoryMib * 1024 * 1024} />
          </div>
          <Ports name={name} running={running} />
        </section>
      )}
      {tab === 'console' && <Console name={name} />}
      {tab === 'terminal' && (running ? <LazyTerminal name={name} /> : <p class="muted">Start the VM to open a terminal.</p>)}
      {tab === 'workspace' && <WorkspacePanel vm={vm} run={run} />}
    </>
  );
}
