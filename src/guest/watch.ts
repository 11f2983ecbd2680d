/**
 * Watching a guest directory without anything installed in the guest: the default image has no
 * inotify-tools, so one long-running exec polls with `find` (every `intervalMs`) and prints
 * whole snapshots; the host diffs consecutive snapshots into create/write/remove events (pure,
 * `diffSnapshots`). One SSH channel per watch, no per-poll round trip. A rename shows as a
 * remove and a create; changes inside one interval merge.
 */
import { BangerError } from '../api/errors.js';
import type { GuestSession } from './access.js';
import { shellCommand } from './quote.js';

export type WatchEventType = 'create' | 'write' | 'remove';
export interface WatchEvent {
  /** Path relative to the watched directory. */
  name: string;
  type: WatchEventType;
}

/** path → `type size mtime` */
export type Snapshot = Map<string, string>;

/** Events that turn `prev` into `next` (pure). A new non-empty file also gets a write, as inotify reports. */
export function diffSnapshots(prev: Snapshot, next: Snapshot): WatchEvent[] {
  const out: WatchEvent[] = [];
  for (const [name, sig] of next) {
    const old = prev.get(name);
    if (old === undefined) {
      out.push({ name, type: 'create' });
      const [kind, size] = sig.split(' ');
      if (kind === 'f' && size !== '0') out.push({ name, type: 'write' });
    } else if (old !== sig) out.push({ name, type: 'write' });
  }
  for (const name of prev.keys()) if (!next.has(name)) out.push({ name, type: 'remove' });
  return out;
}

/** Records are `type\tsize\tmtime\trelpath\0`; an empty record ends a snapshot. Returns complete snapshots and the unparsed rest (pure). */
export function parseSnapshots(buf: string): { snapshots: Snapshot[]; rest: string } {
  const snapshots: Snapshot[] = [];
  let cur: Snapshot = new Map();
  let start = 0;
  let consumed = 0;
  for (;;) {
    const end = buf.indexOf('\0', start);
    if (end < 0) break;
    const rec = buf.slice(start, end);
    start = end + 1;
    if (rec === '') {
      snapshots.push(cur);
      cur = new Map();
      consumed = start;
      continue;
    }
    const [kind, size, mtime, ...path] = rec.split('\t');
    cur.set(path.join('\t'), `${kind} ${size} ${mtime}`);
  }
  // Records of an unfinished snapshot are re-read with the rest.
  return { snapshots, rest: buf.slice(consumed) };
}

export function pollScript(recursive: boolean, intervalMs: number): string {
  const depth = recursive ? '' : '-maxdepth 1 ';
  const secs = (Math.max(50, intervalMs) / 1000).toFixed(2);
  return `cd "$1" || exit 44; while :; do find . -mindepth 1 ${depth}-printf '%y\\t%s\\t%T@\\t%P\\0'; printf '\\0'; sleep ${secs}; done`;
}

export interface DirWatch {
  /** Settles once the first snapshot is in (changes after it are reported). */
  ready: Promise<void>;
  stop(): void;
  /** Settles when the watch ends (stopped, the directory went away, the connection dropped). */
  ended: Promise<Error | null>;
}

export function watchDir(s: GuestSession, dir: string, opts: { recursive: boolean; intervalMs?: number }, onEvents: (events: WatchEvent[]) => void): DirWatch {
  const h = s.exec(shellCommand(['sh', '-c', pollScript(opts.recursive, opts.intervalMs ?? 250), 'sh', dir]));
  let buf = '';
  let prev: Snapshot | null = null;
  let markReady!: () => void;
  let failReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((markReady = res), (failReady = rej)));
  ready.catch(() => {});
  h.stdout.setEncoding('utf8');
  h.stdout.on('data', (d: string) => {
    const { snapshots, rest } = parseSnapshots(buf + d);
    buf = rest;
    for (const snap of snapshots) {
      if (prev === null) markReady();
      else {
        const ev = diffSnapshots(prev, snap);
        if (ev.length) onEvents(ev);
      }
      prev = snap;
    }
  });
  let stopped = false;
  const ended = h.exit.then(
    (st) => {
      const err = stopped ? null : st.code === 44 ? new BangerError('not_found', `${dir}: no such directory in the guest`) : new BangerError('unavailable', `watching ${dir} ended (exit ${st.code ?? st.signal})`);
      if (err) failReady(err);
      return err;
    },
    (err: Error) => (failReady(err), err),
  );
  return {
    ready,
    ended,
    stop() {
      if (stopped) return;
      stopped = true;
      h.kill('SIGKILL');
    },
  };
}
