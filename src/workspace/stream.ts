/**
 * The prepare byte stream (pure planning): the host `tar` invocations whose outputs are
 * concatenated into the guest's `tar -x -i`, and the end marker that closes a complete stream.
 * GNU tar is required on the host (positional -C / --recursion, --null, --verbatim-files-from).
 */
import { END_MARKER } from './scripts.js';

/** One host tar invocation's worth of input. */
export type TarPart =
  /** Directories or files under `cwd`, recursively (the .git skeleton, a submodule's git dir). */
  | { kind: 'tree'; cwd: string; names: string[]; exclude?: string[]; transform?: string }
  /** Exactly the NUL-separated paths in `listFile`, relative to `cwd`, without recursing. */
  | { kind: 'list'; cwd: string; listFile: string };

const TAR_BASE = ['tar', '-c', '-f', '-', '--format=gnu'];

/**
 * argv for each host tar process. Plain parts share one process (positional -C and --recursion
 * keep them apart); excludes and transforms apply to a whole invocation, so such a part gets its
 * own (an exclude of `*.lock` must never drop a working-tree `yarn.lock`).
 */
export function tarInvocations(parts: readonly TarPart[]): string[][] {
  const out: string[][] = [];
  let cur: string[] | null = null;
  for (const p of parts) {
    if (p.kind === 'tree' && (p.transform || p.exclude?.length)) {
      out.push([...TAR_BASE, ...(p.transform ? [`--transform=${p.transform}`] : []), ...treeArgs(p)]);
      cur = null;
      continue;
    }
    if (!cur) {
      cur = [...TAR_BASE];
      out.push(cur);
    }
    if (p.kind === 'tree') cur.push(...treeArgs(p));
    else cur.push('-C', p.cwd, '--no-recursion', '--null', '--verbatim-files-from', '--no-unquote', '-T', p.listFile);
  }
  return out;
}

function treeArgs(p: Extract<TarPart, { kind: 'tree' }>): string[] {
  // Positional: each name is preceded by --recursion so it is never misread as an option.
  const excl = (p.exclude ?? []).map((e) => `--exclude=${e}`);
  return ['-C', p.cwd, ...excl, '--recursion', ...p.names.flatMap((n) => ['--add-file', n])];
}

/** A one-record tar holding the empty file END_MARKER, then the end-of-archive blocks. */
export function endMarkerTar(mtimeSec = 0): Buffer {
  const rec = Buffer.alloc(10240);
  const h = rec.subarray(0, 512);
  h.write(END_MARKER, 0, 'ascii');
  h.write('0000644\0', 100, 'ascii'); // mode
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  h.write('00000000000\0', 124, 'ascii'); // size
  h.write(`${mtimeSec.toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder: spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return rec;
}
