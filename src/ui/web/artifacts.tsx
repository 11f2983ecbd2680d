/** Images, kernels and snapshots: sizes and what uses them; delete goes through the daemon's own guards (a used image is refused with banger's message). */
import type { ComponentChildren } from 'preact';
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
      <ArtifactTable
        heads={['Name', 'Distro', 'Size', 'Kernel', 'Used by', 'Built']}
        rows={(images ?? []).map((i) => ({
          key: i.sha256,
          name: i.name,
          attrs: { 'data-image': i.name },
          cells: [i.name, `${i.distro} ${i.arch}`, fmtBytes(i.sizeBytes), i.kernelRef ?? '–', usersOf((v) => v.image === i.name).join(', ') || '–', <span title={i.builtAt}>{fmtAge(i.builtAt)} ago</span>],
        }))}
        onDelete={(name) => del('image', name)}
      />
      <h2>Kernels</h2>
      <ArtifactTable
        heads={['Name', 'Release', 'Size', 'Used by']}
        rows={(kernels ?? []).map((k) => ({
          key: k.sha256,
          name: k.name,
          cells: [k.name, k.release, fmtBytes(Object.values(k.files).reduce((n, f) => n + (f?.size ?? 0), 0)), usersOf((v) => v.kernel === k.name).join(', ') || '–'],
        }))}
        onDelete={(name) => del('kernel', name)}
      />
      <h2>Snapshots</h2>
      {snaps && snaps.length === 0 ? (
        <p class="empty">No snapshots.</p>
      ) : (
        <ArtifactTable
          heads={['Name', 'Kind', 'From', 'Size', 'Used by', 'Age']}
          rows={(snaps ?? []).map((s) => ({
            key: s.id,
            name: s.name,
            cells: [s.name, s.kind, s.sourceVm ?? s.image, fmtBytes(s.stateBytes + (s.layerBytes ?? 0)), [...s.usedBy.vms, ...s.usedBy.snapshots].join(', ') || '–', fmtAge(s.createdAt)],
          }))}
          onDelete={(name) => del('snapshot', name)}
        />
      )}
    </>
  );
}

interface ArtifactRow {
  key: string;
  name: string;
  attrs?: Record<string, string>;
  cells: ComponentChildren[];
}

/** One artifact table: a row per artifact, its cells, and a Delete button. */
function ArtifactTable({ heads, rows, onDelete }: { heads: string[]; rows: ArtifactRow[]; onDelete: (name: string) => void }) {
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {heads.map((h) => (
              <th key={h}>{h}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} {...r.attrs}>
              {r.cells.map((c, i) => (
                <td key={i}>{c}</td>
              ))}
              <td>
                <button class="danger" onClick={() => onDelete(r.name)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
