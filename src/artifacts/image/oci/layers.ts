/**
 * Applying OCI layers, decided without touching a disk: a planner fed every tar header of every
 * layer in order answers, entry by entry, whether it is safe, and at the end which entries survive
 * into the flattened root (and under which name). Whiteouts (`.wh.NAME`) remove NAME and everything
 * below it from lower layers; an opaque marker (`.wh..wh..opq`) hides every lower-layer entry of its
 * directory. The path-safety rules are image import's (tarsafety.ts), applied to the merged tree:
 * no absolute names or `..`; nothing at or below a symlink or a non-directory of the tree so far; a
 * whiteout may name only an entry of its own directory (not `.`, `..`, nor a path through a
 * symlink); hard links only to a file already in the tree, never through a symlink; no device nodes.
 * The flattened archive (flatten.ts) holds each surviving path once, so the host `tar -x` that
 * follows never writes through anything an earlier layer left.
 */
import { normalizeEntryName, resolveRelativeTarget, type TarEntryHeader } from '../tarsafety.js';

/** The opaque-directory marker. */
export const OPAQUE_MARKER = '.wh..wh..opq';
const WHITEOUT = '.wh.';
/** The most entries one image may hold (bounds the planner's memory). */
export const MAX_ENTRIES = 4_000_000;

const ALLOWED_TYPES = new Set(['file', 'directory', 'symlink', 'link', 'fifo']);

export type LayerVerdict = { ok: true; skip?: boolean } | { ok: false; reason: string };

/** What the emit pass does with one entry: write it under `path`, as a hard link to `linkTarget` when set. */
export interface EmitAction {
  path: string;
  linkTarget?: string;
}

interface Node {
  layer: number;
  index: number;
  path: string;
  type: string;
  /** For hard links: the non-link entry whose content they share. */
  source?: Node;
}

/** The key of one entry of one layer in the plan (`layer:index`, both 0-based). */
export const entryKey = (layer: number, index: number): string => `${layer}:${index}`;

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

export class LayerPlanner {
  private readonly tree = new Map<string, Node>();
  private layer = -1;

  /** Starts the next layer (layers are fed bottom first); returns its 0-based number. */
  startLayer(): number {
    return ++this.layer;
  }

  /** Checks one header of the current layer (`index` = its position in the layer) and records it. */
  add(index: number, header: TarEntryHeader): LayerVerdict {
    if (this.layer < 0) throw new Error('startLayer() first');
    const norm = normalizeEntryName(header.name);
    if ('reason' in norm) return fail(norm.reason);
    const path = norm.path;
    // AUFS metadata at the root (`.wh..wh.plnk/…`, `.wh..wh.aufs`) is skipped, as Docker does.
    if (path.startsWith(`${WHITEOUT}${WHITEOUT}`)) return { ok: true, skip: true };
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (base.startsWith(WHITEOUT)) return this.whiteout(path, base);

    const type = header.type === 'contiguous-file' ? 'file' : header.type;
    if (type === 'character-device' || type === 'block-device') return fail(`device node (${type}) not allowed`);
    if (type === null || !ALLOWED_TYPES.has(type)) return fail(`unsupported entry type ${type ?? 'unknown'}`);
    if (path === '' && type !== 'directory') return fail('the layer root must be a directory');
    const under = this.blockingAncestor(path);
    if (under) return fail(under);

    const node: Node = { layer: this.layer, index, path, type };
    if (type === 'symlink') {
      const target = header.linkname ?? '';
      if (target === '') return fail('symlink with an empty target');
      if (target.includes('\0')) return fail('NUL byte in symlink target');
      if (!target.startsWith('/') && resolveRelativeTarget(path, target) === null) return fail(`symlink target "${target}" escapes the root`);
    }
    if (type === 'link') {
      const t = normalizeEntryName(header.linkname ?? '');
      if ('reason' in t) return fail(`hard link target: ${t.reason}`);
      const via = this.blockingAncestor(t.path);
      if (via) return fail(`hard link target ${via}`);
      const target = this.tree.get(t.path);
      if (!target || target.type === 'directory' || target.type === 'symlink') {
        return fail(`hard link to "${header.linkname}", which is not a file in the image at this layer`);
      }
      node.source = target.source ?? target;
    }
    const existing = this.tree.get(path);
    if (existing?.type === 'directory' && type !== 'directory') this.removeBelow(path, this.layer + 1);
    if (!existing && this.tree.size >= MAX_ENTRIES) return fail(`the image has more than ${MAX_ENTRIES} entries`);
    this.tree.set(path, node);
    return { ok: true };
  }

  /** Which entries survive, keyed by entryKey; everything else (lower versions, whiteouts) is dropped. */
  finish(): Map<string, EmitAction> {
    const actions = new Map<string, EmitAction>();
    const linksBySource = new Map<Node, Node[]>();
    for (const node of this.tree.values()) {
      if (node.type !== 'link') {
        actions.set(entryKey(node.layer, node.index), { path: node.path });
        continue;
      }
      const group = linksBySource.get(node.source!) ?? [];
      group.push(node);
      linksBySource.set(node.source!, group);
    }
    for (const [source, links] of linksBySource) {
      links.sort((a, b) => a.layer - b.layer || a.index - b.index);
      let target = source.path;
      if (this.tree.get(source.path) !== source) {
        // The linked file was replaced or whited out later: its content lives on under the first
        // surviving link's name (emitted where the file was), the other links point there.
        const first = links.shift()!;
        actions.set(entryKey(source.layer, source.index), { path: first.path });
        target = first.path;
      }
      for (const l of links) actions.set(entryKey(l.layer, l.index), { path: l.path, linkTarget: target });
    }
    return actions;
  }

  private whiteout(path: string, base: string): LayerVerdict {
    const dir = parentOf(path);
    const dirBlock = this.blockingAncestor(path);
    if (dirBlock) return fail(`whiteout ${dirBlock}`);
    if (base === OPAQUE_MARKER) {
      this.removeBelow(dir, this.layer);
      return { ok: true };
    }
    if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return fail('unknown whiteout marker');
    const name = base.slice(WHITEOUT.length);
    if (name === '' || name === '.' || name === '..') return fail(`whiteout names "${name}", which is not an entry of its directory`);
    const target = dir === '' ? name : `${dir}/${name}`;
    const node = this.tree.get(target);
    if (node && node.layer < this.layer) this.tree.delete(target);
    this.removeBelow(target, this.layer);
    return { ok: true };
  }

  /** Removes the entries strictly below `dir` that came from layers before `beforeLayer`. */
  private removeBelow(dir: string, beforeLayer: number): void {
    const prefix = dir === '' ? '' : `${dir}/`;
    for (const [p, n] of this.tree) {
      if (p !== '' && p.startsWith(prefix) && n.layer < beforeLayer) this.tree.delete(p);
    }
  }

  /** Why `path` cannot be placed: an ancestor in the tree is a symlink or not a directory; null when fine. */
  private blockingAncestor(path: string): string | null {
    if (path === '') return null;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const a = parts.slice(0, i).join('/');
      const n = this.tree.get(a);
      if (!n) continue;
      if (n.type === 'symlink') return `lies under the symlink "${a}"`;
      if (n.type !== 'directory') return `lies under "${a}", which is not a directory`;
    }
    return null;
  }
}

const fail = (reason: string): LayerVerdict => ({ ok: false, reason });

/** Plans a whole image from header lists (bottom layer first); throws on the first refused entry. Tests and small callers. */
export function planLayers(layers: readonly (readonly TarEntryHeader[])[]): Map<string, EmitAction> {
  const planner = new LayerPlanner();
  for (const entries of layers) {
    const layer = planner.startLayer();
    entries.forEach((h, i) => {
      const v = planner.add(i, h);
      if (!v.ok) throw new Error(`layer ${layer + 1} entry "${h.name}": ${v.reason}`);
    });
  }
  return planner.finish();
}
