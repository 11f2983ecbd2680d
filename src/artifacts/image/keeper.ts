/**
 * Keeps a root file system's owners, modes and device nodes on the way from a tar to an ext4,
 * whoever runs the build. As root, `tar -x --same-owner` and `mkfs.ext4 -d` do it for real. As any
 * other user the same two commands run under fakeroot sharing one state file: tar's chown, chmod
 * and mknod are recorded there instead of failing, the files on disk stay the user's (readable,
 * removable without help), and mkfs.ext4 -d, which reads the tree with lstat, sees and writes the
 * recorded owners, setuid bits and device numbers. Measured: root-owned system files, 4755 binaries,
 * /etc/shadow 0:42 0640, mode-0000 files and char devices all arrive in the ext4 as in the tar;
 * files written into the tree outside fakeroot would show as root:root, but nothing is. One gap:
 * tar creates a mode-0000 file with that mode for real (fakeroot only widens chmod), so mkfs could
 * not read it; `readableArgv` gives such files u+r on disk after extraction, while fakeroot's record,
 * made when tar chowned them, still says 0000.
 * Extended attributes are not carried (Debian's default image has none; `image import` drops them).
 */
import { writeFile } from 'node:fs/promises';
import { run } from '../../host/exec.js';

export interface OwnershipKeeper {
  /** True when ownership is recorded by fakeroot rather than applied for real. */
  readonly faked: boolean;
  /** The command to run so it sees (and records) the kept ownership. */
  wrap(argv: readonly string[]): string[];
  /** Creates the state file (fakeroot wants it to exist before the first `-i`). */
  init(): Promise<void>;
  /** A command that makes every extracted file readable to the user on disk (null when root needs none). */
  readableArgv(root: string): string[] | null;
}

/** A keeper for a build run by `uid`, recording in `stateFile` when that is not root. */
export function ownershipKeeper(stateFile: string, uid: number | undefined = process.getuid?.()): OwnershipKeeper {
  if (uid === 0) return { faked: false, wrap: (argv) => [...argv], init: async () => {}, readableArgv: () => null };
  return {
    faked: true,
    wrap: (argv) => ['fakeroot', '-i', stateFile, '-s', stateFile, '--', ...argv],
    init: () => writeFile(stateFile, '', { flag: 'a' }),
    // Outside fakeroot on purpose: the real mode changes, the recorded one does not.
    readableArgv: (root) => ['find', root, '!', '-type', 'l', '!', '-perm', '-u=r', '-exec', 'chmod', 'u+rX', '{}', '+'],
  };
}

/** Extracts an archive into `root` under the keeper and leaves every file readable for mkfs. */
export async function extractKept(keeper: OwnershipKeeper, root: string, file: string): Promise<void> {
  await run(keeper.wrap(extractTarArgv(root, file)));
  await makeReadable(keeper, root);
}

/** Runs the keeper's readable-on-disk pass, if it has one. */
export async function makeReadable(keeper: OwnershipKeeper, root: string): Promise<void> {
  const argv = keeper.readableArgv(root);
  if (argv) await run(argv);
}

/** `tar -x` of an archive (`-` = stdin) into `root`, keeping numeric owners and every mode bit. */
export function extractTarArgv(root: string, file = '-'): string[] {
  return ['tar', '--extract', '--file', file, '--directory', root, '--numeric-owner', '--same-owner', '--same-permissions'];
}
