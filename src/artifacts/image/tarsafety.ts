/**
 * Path safety for rootfs tars (`image import`): the boundary where an untrusted archive meets the
 * host. Pure: it sees tar headers in archive order and decides, entry by entry, whether the host
 * `tar -x` that follows may act on it. Nothing here touches the file system.
 *
 * The host is protected by four rules: no absolute names and no `..` (the entry lands outside the
 * staging dir); no entry at or below a path that was a symlink earlier in the archive (extraction
 * would follow it onto the host); hard links only to an earlier non-directory entry that is itself
 * not reached through a symlink; no device nodes. Symlink targets are never followed on the host,
 * so an absolute target is allowed (the guest resolves it inside its own root); a relative target
 * that climbs above the root is refused as malformed.
 */
import { BangerError } from '../../api/errors.js';

/** The header fields this check reads (a subset of tar-stream's `Headers`). */
export interface TarEntryHeader {
  name: string;
  type: string | null;
  linkname?: string | null;
}

export type TarVerdict = { ok: true; path: string } | { ok: false; reason: string };

const ALLOWED_TYPES = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'fifo']);

/**
 * Normalises an archive member name to a root-relative path without `.` segments or a leading
 * `./`; '' is the root itself. Returns a reason string instead when the name is unsafe.
 */
export function normalizeEntryName(name: string): { path: string } | { reason: string } {
  if (name === '') return { reason: 'empty name' };
  if (name.includes('\0')) return { reason: 'NUL byte in name' };
  if (name.startsWith('/')) return { reason: 'absolute path' };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { reason: '".." path component' };
  return { path: parts.join('/') };
}

/** Resolves a relative symlink target lexically from the link's directory; null when it climbs above the root. */
export function resolveRelativeTarget(linkPath: string, target: string): string | null {
  const stack = linkPath.split('/').slice(0, -1).filter((p) => p !== '');
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return null;
      stack.pop();
    } else stack.push(part);
  }
  return stack.join('/');
}

/** Checks entries in archive order; one checker per archive (it remembers earlier entries). */
export class TarEntryChecker {
  private readonly symlinks = new Set<string>();
  private readonly linkable = new Set<string>();

  check(header: TarEntryHeader): TarVerdict {
    const norm = normalizeEntryName(header.name);
    if ('reason' in norm) return { ok: false, reason: norm.reason };
    const path = norm.path;
    const type = header.type;
    if (type === 'character-device' || type === 'block-device') return { ok: false, reason: `device node (${type}) not allowed` };
    if (type === null || !ALLOWED_TYPES.has(type)) return { ok: false, reason: `unsupported entry type ${type ?? 'unknown'}` };
    if (path === '' && type !== 'directory') return { ok: false, reason: 'the archive root must be a directory' };

    const through = this.symlinkOnPath(path);
    if (through !== null) {
      return { ok: false, reason: through === path ? `replaces the earlier symlink "${through}"` : `lies under the symlink "${through}"` };
    }

    if (type === 'symlink') {
      const target = header.linkname ?? '';
      if (target === '') return { ok: false, reason: 'symlink with an empty target' };
      if (target.includes('\0')) return { ok: false, reason: 'NUL byte in symlink target' };
      // Absolute targets resolve inside the guest's root and are never followed on the host.
      if (!target.startsWith('/') && resolveRelativeTarget(path, target) === null) {
        return { ok: false, reason: `symlink target "${target}" escapes the root` };
      }
      this.symlinks.add(path);
      this.linkable.delete(path);
      return { ok: true, path };
    }

    if (type === 'link') {
      const target = normalizeEntryName(header.linkname ?? '');
      if ('reason' in target) return { ok: false, reason: `hard link target: ${target.reason}` };
      const via = this.symlinkOnPath(target.path);
      if (via !== null) return { ok: false, reason: `hard link target lies under the symlink "${via}"` };
      if (!this.linkable.has(target.path)) {
        return { ok: false, reason: `hard link to "${header.linkname}", which is not an earlier file in the archive` };
      }
      this.linkable.add(path);
      return { ok: true, path };
    }

    if (type === 'directory') this.linkable.delete(path);
    else this.linkable.add(path);
    return { ok: true, path };
  }

  /** The path itself or its nearest ancestor that is a symlink declared earlier, else null. */
  private symlinkOnPath(path: string): string | null {
    if (this.symlinks.size === 0 || path === '') return null;
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) return prefix;
    }
    return null;
  }
}

/** The error for a refused entry: names the entry so the user can find it. */
export function unsafeEntryError(name: string, reason: string): BangerError {
  return new BangerError('bad_request', `refusing rootfs tar entry "${name}": ${reason}; nothing was imported`, {
    details: { entry: name, reason },
  });
}

/** Checks a whole list of headers; throws on the first unsafe one. Returns the normalised paths. */
export function checkTarEntries(headers: readonly TarEntryHeader[]): string[] {
  const checker = new TarEntryChecker();
  return headers.map((h) => {
    const v = checker.check(h);
    if (!v.ok) throw unsafeEntryError(h.name, v.reason);
    return v.path;
  });
}
