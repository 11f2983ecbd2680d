/** The VM list (live, from the daemon's events) with its actions, and the create form. */
import { useEffect, useState } from 'preact/hooks';
import type { ImageManifest } from '../../api/image.js';
import type { Vm } from '../../api/vm.js';
import { TaskLog, useTasks } from './actions.js';
import { call, fmtAge, fmtBytes } from './api.js';
import type { Live } from './live.js';

type Run = ReturnType<typeof useTasks>['run'];

export function addresses(vm: Vm): string[] {
  const out: string[] = [];
  if (vm.network.ip) out.push(vm.network.ip);
  if (vm.ssh) out.push(`ssh ${vm.ssh.host}:${vm.ssh.port}`);
  for (const f of vm.network.forwards ?? []) if (f.hostPort) out.push(`${f.guestPort}→127.0.0.1:${f.hostPort}`);
  return out;
}

/** The lifecycle buttons of one VM (used by the list and the VM page). */
export function VmActions({ vm, run, onDeleted }: { vm: Vm; run: Run; onDeleted?(): void }) {
  const busy = vm.state === 'starting' || vm.state === 'stopping';
  const p = (title: string, fn: Parameters<Run>[1]) => () => void run(`${title} ${vm.name}`, fn);
  return (
    <div class="actions" role="group" aria-label={`actions for ${vm.name}`}>
      {vm.state !== 'running' && (
        <button disabled={busy} onClick={p('start', (onProgress) => call('vm.start', { name: vm.name }, { onProgress }))}>
          Start
        </button>
      )}
      {vm.state === 'running' && (
        <>
          <button onClick={p('stop', (onProgress) => call('vm.stop', { name: vm.name }, { onProgress }))}>Stop</button>
          <button onClick={p('restart', (onProgress) => call('vm.restart', { name: vm.name }, { onProgress }))}>Restart</button>
          <button onClick={p('snapshot', (onProgress) => call('vm.snapshot', { name: vm.name }, { onProgress }))}>Snapshot</button>
          <button
            onClick={() => {
              const name = prompt(`Fork ${vm.name} as (new VM name):`, `${vm.name}-fork`);
              if (name) void run(`fork ${vm.name} → ${name}`, (onProgress) => call('vm.fork', { source: vm.name, name }, { onProgress }));
            }}
          >
            Fork
          </button>
        </>
      )}
      <button
        class="danger"
        disabled={busy}
        onClick={() => {
          if (!confirm(`Delete VM ${vm.name} and its disk?`)) return;
          void run(`delete ${vm.name}`, (onProgress) => call('vm.delete', { name: vm.name }, { onProgress })).then((r) => r && onDeleted?.());
        }}
      >
        Delete
      </button>
    </div>
  );
}

function CreateForm({ run }: { run: Run }) {
  const [images, setImages] = useState<ImageManifest[]>([]);
  const [f, setF] = useState({ name: '', image: '', vcpu: '', memoryMib: '', diskSize: '', network: '', repo: '' });
  useEffect(() => {
    call('image.list', {}).then((r) => setImages(r.images), () => {});
  }, []);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    const params = {
      ...(f.name ? { name: f.name } : {}),
      ...(f.image ? { image: f.image } : {}),
      ...(f.vcpu ? { vcpu: Number(f.vcpu) } : {}),
      ...(f.memoryMib ? { memoryMib: Number(f.memoryMib) } : {}),
      ...(f.diskSize ? { diskSize: f.diskSize } : {}),
      ...(f.network ? { network: f.network as 'user' | 'bridge' } : {}),
    };
    const repo = f.repo.trim();
    void run(
      `create ${f.name || 'VM'}`,
      async (onProgress) => {
        const vm = await call('vm.create', params, { onProgress });
        if (repo) await call('workspace.prepare', { name: vm.name, hostPath: repo }, { onProgress });
        return vm;
      },
      (vm) => `${vm.name} is ${vm.state}`,
    );
  };
  return (
    <form class="create" onSubmit={submit} aria-label="create a VM">
      <label>
        Name <input name="name" value={f.name} onInput={set('name')} placeholder="(generated)" autocomplete="off" />
      </label>
      <label>
        Image
        <select name="image" value={f.image} onChange={set('image')}>
          <option value="">default</option>
          {images.map((i) => (
            <option value={i.name} key={i.sha256}>
              {i.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        vCPU <input name="vcpu" type="number" min="1" max="64" value={f.vcpu} onInput={set('vcpu')} placeholder="default" />
      </label>
      <label>
        Memory MiB <input name="memoryMib" type="number" min="128" value={f.memoryMib} onInput={set('memoryMib')} placeholder="default" />
      </label>
      <label>
        Disk <input name="diskSize" value={f.diskSize} onInput={set('diskSize')} placeholder="e.g. 8G" />
      </label>
      <label>
        Network
        <select name="network" value={f.network} onChange={set('network')}>
          <option value="">default</option>
          <option value="user">user</option>
          <option value="bridge">bridge</option>
        </select>
      </label>
      <label class="wide">
        Repo path <input name="repo" value={f.repo} onInput={set('repo')} placeholder="/path/to/repo (optional: prepare a workspace)" />
      </label>
      <button type="submit" class="primary">
        Create
      </button>
    </form>
  );
}

export function VmsPage({ live }: { live: Live }) {
  const { tasks, run, dismiss } = useTasks();
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 10_000); // ages only; data comes from the event stream
    return () => clearInterval(t);
  }, []);
  return (
    <>
      <h1>VMs</h1>
      <CreateForm run={run} />
      <TaskLog tasks={tasks} dismiss={dismiss} />
      {live.vms.length === 0 ? (
        <p class="empty">{live.connected ? 'No VMs yet. Create one above.' : 'Connecting to bangerd…'}</p>
      ) : (
        <div class="table-wrap">
          <table class="vms">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th>Image</th>
                <th>Addresses</th>
                <th>CPU</th>
                <th>Memory</th>
                <th>Workspace</th>
                <th>Age</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {live.vms.map((vm) => {
                const s = live.stats.get(vm.name);
                return (
                  <tr key={vm.id} data-vm={vm.name} data-state={vm.state}>
                    <td>
                      <a href={`#/vm/${encodeURIComponent(vm.name)}`}>{vm.name}</a>
                    </td>
                    <td data-label="State">
                      <span class={`state ${vm.state}`}>{vm.state}</span>
                      {vm.state === 'broken' && vm.reasons.length > 0 && <div class="error small">{vm.reasons.join('; ')}</div>}
                    </td>
                    <td data-label="Image">{vm.image}</td>
                    <td class="mono small" data-label="Addresses">{addresses(vm).join(', ') || '–'}</td>
                    <td data-label="CPU">{s?.cpuPercent != null && vm.state === 'running' ? `${s.cpuPercent.toFixed(1)}%` : '–'}</td>
                    <td data-label="Memory">
                      {vm.state === 'running' && s?.rssBytes != null ? fmtBytes(s.rssBytes) : '–'} / {vm.memoryMib} MiB
                    </td>
                    <td class="mono small" data-label="Workspace">{vm.workspace ? `${vm.workspace.hostSource} → ${vm.workspace.guestPath}` : '–'}</td>
                    <td title={vm.createdAt} data-label="Age">{fmtAge(vm.createdAt)}</td>
                    <td>
                      <VmActions vm={vm} run={run} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
