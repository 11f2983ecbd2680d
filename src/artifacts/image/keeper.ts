/**
 * Keeps a root file system's owners, modes and device nodes on the way from a tar to an ext4,
 * whoever runs the build. As root, `tar -x --same-owner` and `mkfs.ext4 -d` do it for real. As any
 * other user the same two commands run under fakeroot sharing one state file: tar's chown, chmod
 * and mknod are recorded there instead of failing, the files on disk stay the user's (readable,
 * removable without help), and mkfs.ext4 -d, which reads the tree with lstat, sees and writes the
 * recorded owners, setuid bits and device numbers. Measured: root-owned system files, 4755 binaries,
 * /etc/shadow 0:42 0640, mode-0000 files and char devices all arrive in the ext4 as in the tar;
 * files written into the tree outside fakeroot would show as root:root, but nothing is.
 * Extended attributes are not carried (Debian's default image has none; `image import` drops them).
 */
import { writeFile } from 'node:fs/promises';

export interface OwnershipKeeper {
  /** True when ownership is recorded by fakeroot rather than applied for real. */
  readonly faked: boolean;
  /** The command to run so it sees (and records) the kept ownership. */
  wrap(argv: readonly string[]): string[];
  /** Creates the state file (fakeroot wants it to exist before the first `-i`). */
  init(): Promise<void>;
}

/** A keeper for a build run by `uid`, recording in `stateFile` when that is not root. */
export function ownershipKeeper(stateFile: string, uid: number | undefined = process.getuid?.()): OwnershipKeeper {
  if (uid === 0) return { faked: false, wrap: (argv) => [...argv], init: async () => {} };
  return {
    faked: true,
    wrap: (argv) => ['fakeroot', '-i', stateFile, '-s', stateFile, '--', ...argv],
    init: () => writeFile(stateFile, '', { flag: 'a' }),
  };
}

/** `tar -x` of an archive (`-` = stdin) into `root`, keeping numeric owners and every mode bit. */
export function extractTarArgv(root: string, file = '-'): string[] {
  return ['tar', '--extract', '--file', file, '--directory', root, '--numeric-owner', '--same-owner', '--same-permissions'];
}
