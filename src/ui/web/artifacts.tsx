/** Images, kernels and snapshots: sizes and what uses them; delete goes through the daemon's own guards (a used image is refused with banger's message). */
import { useEffect, useState } from 'preact/hooks';
import type { ImageManifest } from '../../api/image.js';
import type { KernelManifest } from '../../api/kernel.js';
import type { Snapshot } from '../../api/snapshot.js';
import { TaskLog, useTasks } from './actions.js';
import { call, fmtAge, fmtBytes } from './api.js';
import type { Live } from './live.js';

export function ArtifactsPage({ live }: { live: Live }) {
  const { tasks, run, dismiss } = useTasks();
  const [images, setImages] = useState<ImageManifest[] | null>(null);
  const [kernels, setKernels] = useState<KernelManifest[] | null>(null);
  const [snaps, setSnaps] = useState<Snapshot[] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const load = () => {
    const fail = (e: Error) => setErr(e.message);
    call('image.list', {}).then((r) => setImages(r.images), fail);
    call('kernel.list', {}).then((r) => setKernels(r.kernels), fail);
    call('snapshot.list', {}).then((r) => setSnaps(r.snapshots), fail);
  };
  useEffect(load, []);
  const del = (what: 'image' | 'kernel' | 'snapshot', name: string) => {
    if (!confirm(`Delete ${what} ${name}?`)) return;
    const m = `${what}.delete` as const;
    void run(`delete ${what} ${name}`, (onProgress) => call(m, { name }, { onProgress })).then(load);
  };
  const [pullName, setPullName] = useState('');
  const usersOf = (pred: (v: { image: string; kernel: string }) => boolean) => live.vms.filter(pred).map((v) => v.name);
  return (
    <>
      <h1>Images, kernels and snapshots</h1>
      {err && <p class="error">{err}</p>}
      <div class="actions" role="group" aria-label="get images and kernels">
        <button onClick={() => void run('pull the default kernel', (onProgress) => call('kernel.pull', {}, { onProgress }), (k) => `kernel ${k.name} (${k.release})`).then(load)}>Pull default kernel</button>
        <button onClick={() => void run('build the default image', (onProgress) => call('image.build', {}, { onProgress }), (i) => `image ${i.name}`).then(load)}>Build default image</button>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const n = pullName.trim();
            if (n) void run(`pull image ${n}`, (onProgress) => call('image.pull', { nameOrUrl: n }, { onProgress }), (i) => `image ${i.name}`).then(load);
          }}
        >
          <input aria-label="image to pull (catalog name or URL)" placeholder="catalog name or URL" value={pullName} onInput={(e) => setPullName((e.target as HTMLInputElement).value)} />
          <button type="submit">Pull image</button>
        </form>
      </div>
      <TaskLog tasks={tasks} dismiss={dismiss} />
      <h2>Images</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Distro</th>
              <th>Size</th>
              <th>Kernel</th>
              <th>Used by</th>
              <th>Built</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(images ?? []).map((i) => (
              <tr key={i.sha256} data-image={i.name}>
                <td>{i.name}</td>
                <td>
                  {i.distro} {i.arch}
                </td>
                <td>{fmtBytes(i.sizeBytes)}</td>
                <td>{i.kernelRef ?? '–'}</td>
                <td>{usersOf((v) => v.image === i.name).join(', ') || '–'}</td>
                <td title={i.builtAt}>{fmtAge(i.builtAt)} ago</td>
                <td>
                  <button class="danger" onClick={() => del('image', i.name)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Kernels</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Release</th>
              <th>Size</th>
              <th>Used by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(kernels ?? []).map((k) => (
              <tr key={k.sha256}>
                <td>{k.name}</td>
                <td>{k.release}</td>
                <td>{fmtBytes(Object.values(k.files).reduce((n, f) => n + (f?.size ?? 0), 0))}</td>
                <td>{usersOf((v) => v.kernel === k.name).join(', ') || '–'}</td>
                <td>
                  <button class="danger" onClick={() => del('kernel', k.name)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Snapshots</h2>
      {snaps && snaps.length === 0 ? (
        <p class="empty">No snapshots.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>From</th>
                <th>Size</th>
                <th>Used by</th>
                <th>Age</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(snaps ?? []).map((s) => (
                <tr key={s.id}>
                  <td>{s.name}</td>
                  <td>{s.kind}</td>
                  <td>{s.sourceVm ?? s.image}</td>
                  <td>{fmtBytes(s.stateBytes + (s.layerBytes ?? 0))}</td>
                  <td>{[...s.usedBy.vms, ...s.usedBy.snapshots].join(', ') || '–'}</td>
                  <td>{fmtAge(s.createdAt)}</td>
                  <td>
                    <button class="danger" onClick={() => del('snapshot', s.name)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
