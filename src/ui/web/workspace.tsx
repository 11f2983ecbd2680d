/** The workspace tab: prepare from a host path, the export as a rendered diff (file list, unified or side by side, binary files named), apply to the host repo. */
import { useState } from 'preact/hooks';
import type { Vm } from '../../api/vm.js';
import type { useTasks } from './actions.js';
import { call } from './api.js';
import { parseDiff, sideBySide, type DiffFile, type DiffLine } from './diff.js';

type Run = ReturnType<typeof useTasks>['run'];

const num = (n: number | null) => (n === null ? '' : String(n));
const sign = { ctx: ' ', add: '+', del: '-' } as const;

function Unified({ f }: { f: DiffFile }) {
  return (
    <table class="diff unified">
      <tbody>
        {f.hunks.map((h, hi) => [
          <tr class="hunk" key={`h${hi}`}>
            <td colSpan={3}>{h.header}</td>
          </tr>,
          ...h.lines.map((l, i) => (
            <tr class={l.kind} key={`${hi}-${i}`}>
              <td class="ln">{num(l.old)}</td>
              <td class="ln">{num(l.new)}</td>
              <td class="code">
                {sign[l.kind]}
                {l.text}
              </td>
            </tr>
          )),
        ])}
      </tbody>
    </table>
  );
}

const Cell = ({ l, side }: { l: DiffLine | null; side: 'left' | 'right' }) =>
  l ? (
    <>
      <td class="ln">{num(side === 'left' ? l.old : l.new)}</td>
      <td class={`code ${l.kind}`}>{l.text}</td>
    </>
  ) : (
    <>
      <td class="ln" />
      <td class="code none" />
    </>
  );

function Split({ f }: { f: DiffFile }) {
  return (
    <table class="diff split">
      <tbody>
        {f.hunks.map((h, hi) => [
          <tr class="hunk" key={`h${hi}`}>
            <td colSpan={4}>{h.header}</td>
          </tr>,
          ...sideBySide(h).map((r, i) => (
            <tr key={`${hi}-${i}`}>
              <Cell l={r.left} side="left" />
              <Cell l={r.right} side="right" />
            </tr>
          )),
        ])}
      </tbody>
    </table>
  );
}

export function WorkspacePanel({ vm, run }: { vm: Vm; run: Run }) {
  const [hostPath, setHostPath] = useState(vm.workspace?.hostSource ?? '');
  const [files, setFiles] = useState<DiffFile[] | null>(null);
  const [view, setView] = useState<'unified' | 'split'>('unified');
  const [applied, setApplied] = useState<string | null>(null);
  const running = vm.state === 'running';

  const prepare = (e: Event) => {
    e.preventDefault();
    void run(`prepare workspace in ${vm.name}`, (onProgress) => call('workspace.prepare', { name: vm.name, hostPath: hostPath.trim() }, { onProgress }), (r) => `${r.fileCount} files copied to ${r.workspace.guestPath}`);
  };
  const exportDiff = async () => {
    setApplied(null);
    const chunks: Uint8Array[] = [];
    const r = await run(`export diff of ${vm.name}`, (onProgress) => call('workspace.export', { name: vm.name }, { onProgress, onOutput: (s, b) => s === 'stdout' && chunks.push(b) }), (x) => `${x.files.length} changed files`);
    if (!r) return;
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) all.set(c, o), (o += c.length);
    setFiles(parseDiff(new TextDecoder().decode(all)));
  };
  const apply = async () => {
    const r = await run(`apply ${vm.name}'s changes to the host repo`, (onProgress) => call('workspace.export', { name: vm.name, apply: true }, { onProgress }), (x) => `applied ${x.files.length} files to ${x.appliedTo} (staged)`);
    if (r) setApplied(r.appliedTo);
  };

  return (
    <section class="workspace">
      <form class="inline" onSubmit={prepare} aria-label="prepare workspace">
        <label>
          Host repo path <input name="hostPath" value={hostPath} onInput={(e) => setHostPath((e.target as HTMLInputElement).value)} placeholder="/path/to/repo" required />
        </label>
        <button type="submit" disabled={!running}>
          {vm.workspace ? 'Prepare again' : 'Prepare'}
        </button>
      </form>
      {vm.workspace && (
        <p class="muted">
          Workspace: {vm.workspace.hostSource} → {vm.workspace.guestPath} at {vm.workspace.headCommit.slice(0, 10)}
          {vm.workspace.branch ? ` (branch ${vm.workspace.branch})` : ''}
        </p>
      )}
      <div class="actions">
        <button onClick={() => void exportDiff()} disabled={!running || !vm.workspace}>
          Show diff
        </button>
        <button onClick={() => void apply()} disabled={!running || !vm.workspace || files === null || files.length === 0} class="primary">
          Apply to host repo
        </button>
        {files && files.length > 0 && (
          <span role="group" aria-label="diff layout">
            <button class={view === 'unified' ? 'current' : ''} aria-pressed={view === 'unified'} onClick={() => setView('unified')}>
              Unified
            </button>
            <button class={view === 'split' ? 'current' : ''} aria-pressed={view === 'split'} onClick={() => setView('split')}>
              Side by side
            </button>
          </span>
        )}
      </div>
      {applied && <p class="ok">Applied to {applied}: the changes are staged there (git diff --cached).</p>}
      {files && files.length === 0 && <p class="empty">No changes in the guest since the workspace was prepared.</p>}
      {files && files.length > 0 && (
        <>
          <ul class="filelist" aria-label="changed files">
            {files.map((f) => (
              <li key={f.path}>
                <a href={`#/vm/${encodeURIComponent(vm.name)}`} onClick={(e) => (e.preventDefault(), document.getElementById(`f-${f.path}`)?.scrollIntoView())}>
                  {f.path}
                </a>{' '}
                <span class={`fstatus ${f.status}`}>{f.status}</span> {f.binary ? <span class="badge">binary</span> : <span class="small mono">+{f.added} −{f.removed}</span>}
              </li>
            ))}
          </ul>
          {files.map((f) => (
            <article class="file" id={`f-${f.path}`} key={f.path} data-file={f.path}>
              <h4>
                {f.status === 'renamed' ? `${f.oldPath} → ${f.path}` : f.path} <span class={`fstatus ${f.status}`}>{f.status}</span>
              </h4>
              {f.binary ? <p class="muted">Binary file {f.path} changed (not shown).</p> : view === 'unified' ? <Unified f={f} /> : <Split f={f} />}
            </article>
          ))}
        </>
      )}
    </section>
  );
}
