/**
 * The guest side of prepare and export (pure). Each script is constant text run as
 * `sh -c SCRIPT NAME ARGS...`; every value travels as a positional argument through
 * guest/quote.ts `shellCommand`, so nothing a user typed is ever spliced into shell code.
 * Only POSIX sh, coreutils, GNU tar and git are needed in the guest.
 */
import { BULK_READ_PERL, FIND_BULK_PORT } from '../guest/bulkscript.js';
import { shellCommand } from '../guest/quote.js';

/** Guest exit statuses the scripts use for conditions the host explains. */
export const GUEST_EXIT = {
  /** prepare: the guest path exists and is not an empty directory */
  destNotEmpty: 17,
  /** prepare: the stream ended without banger's end marker (the host side failed) */
  incomplete: 18,
  /** export: the base commit is not in the guest repository */
  noBase: 19,
  /** export: no git repository at the guest path */
  noRepo: 20,
} as const;

/** Name of the empty file that ends a complete prepare stream (see stream.ts). */
export const END_MARKER = '.banger-complete';

/**
 * Extracts the stream into a fresh sibling directory and renames it into place only once the end
 * marker arrived: a workspace is either complete or absent, never half there.
 * $1 destination, $2 `checkout` (materialize HEAD with git: the --from case) or `keep`,
 * $3 the bulk transfer's token (empty: the tar comes on stdin), $4 the bulk reader (guest/bulkscript.ts; a
 * root without perl gets the tar on stdin too).
 * First line of stdout: \`bulk\` (the reader has the port open: the host connects and sends) or
 * \`ssh\` (the tar comes on stdin). A reader that finds no port or no header exits BULK_EXIT.unavailable having
 * extracted nothing, so the host can send the same stream over SSH.
 */
export const IMPORT_SCRIPT = `set -eu
dest=$1
parent=\${dest%/*}
[ -n "$parent" ] || parent=/
mkdir -p -- "$parent"
if [ -e "$dest" ] || [ -L "$dest" ]; then
  if [ -L "$dest" ] || [ ! -d "$dest" ] || [ -n "$(ls -A -- "$dest")" ]; then
    echo "$dest already exists in the guest and is not empty" >&2
    exit ${GUEST_EXIT.destNotEmpty}
  fi
fi
for stale in "$parent"/.banger-ws.*; do
  if [ -e "$stale" ]; then rm -rf -- "$stale"; fi
done
tmp=$(mktemp -d -- "$parent/.banger-ws.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
bulk_port=
# The reader is perl: a root without it (busybox, distroless images) takes the tar over SSH.
if [ -n "$3" ] && command -v perl >/dev/null 2>&1; then
${FIND_BULK_PORT}fi
if [ -n "$bulk_port" ]; then
  exec 4>&1
  st=$(mktemp)
  trap 'rm -rf -- "$tmp" "$st"' EXIT
  ok=1
  { perl -e "$4" "$3" "$bulk_port" 20 4 || echo "$?" >"$st"; } | tar -x -i -f - -C "$tmp" --no-same-owner || ok=
  if [ -s "$st" ]; then exit "$(cat -- "$st")"; fi
  rm -f -- "$st"
  [ -n "$ok" ] || exit 1
else
  echo ssh
  tar -x -i -f - -C "$tmp" --no-same-owner
fi
if [ ! -e "$tmp/${END_MARKER}" ]; then
  echo "the copy ended early" >&2
  exit ${GUEST_EXIT.incomplete}
fi
rm -f -- "$tmp/${END_MARKER}"
if [ "$2" = checkout ]; then git -C "$tmp" reset -q --hard; fi
chmod 755 -- "$tmp"
if [ -d "$dest" ]; then rmdir -- "$dest"; fi
mv -T -- "$tmp" "$dest"
trap - EXIT
`;

/** `bulkToken`: receive over the bulk channel when the guest has it (the first stdout line says). */
export function importCommand(dest: string, opts: { checkout: boolean; bulkToken?: string }): string {
  return shellCommand(['sh', '-c', IMPORT_SCRIPT, 'banger-import', dest, opts.checkout ? 'checkout' : 'keep', opts.bulkToken ?? '', opts.bulkToken ? BULK_READ_PERL : '']);
}

/**
 * Prints `<base sha>\\n`, then one `git diff -z --raw` of the working tree against the base (NUL
 * separated records: `:<modes> <objects> <status>` and the path) and, for `patch`, git's NUL
 * separator and the binary-safe patch, all from a single diff pass. Untracked, not ignored files
 * are included by adding them intent-to-add to a throwaway copy of the index (GIT_INDEX_FILE): the
 * guest's own index, refs and working tree are left exactly as they were, and no object is written.
 * $1 workspace, $2 base given by the user (may be empty), $3 recorded head commit (may be empty), $4 `patch` or `names`.
 */
export const EXPORT_SCRIPT = `set -eu
cd -- "$1" 2>/dev/null || { echo "no directory $1 in the guest" >&2; exit ${GUEST_EXIT.noRepo}; }
if [ -n "$2" ]; then
  want=$2
  base=$(git rev-parse -q --verify --end-of-options "$2^{commit}" 2>/dev/null) || base=
else
  want=$3
  base=$(git rev-parse -q --verify 'refs/banger/prepared^{commit}' 2>/dev/null) ||
    base=$(git rev-parse -q --verify --end-of-options "$3^{commit}" 2>/dev/null) || base=
fi
if [ -z "$base" ]; then
  git rev-parse --git-dir >/dev/null 2>&1 || { echo "$1 is not a git repository in the guest" >&2; exit ${GUEST_EXIT.noRepo}; }
  echo "commit \${want:-(none)} is not in the guest repository; pass --base-commit SHA" >&2
  exit ${GUEST_EXIT.noBase}
fi
# Every git call below uses a copy of the index: even \`git diff\` may rewrite the index it reads.
if [ -d .git ]; then real=$PWD/.git/index; else real=$(git rev-parse --path-format=absolute --git-path index); fi
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
if [ -f "$real" ]; then cp -- "$real" "$tmp/index"; fi
export GIT_INDEX_FILE="$tmp/index" GIT_OPTIONAL_LOCKS=0
fresh() { rm -f -- "$tmp/index"; git read-tree HEAD; }
git ls-files -z -o --exclude-standard >"$tmp/untracked" 2>/dev/null || { fresh; git ls-files -z -o --exclude-standard >"$tmp/untracked"; }
if [ -s "$tmp/untracked" ]; then
  git --literal-pathspecs add -N --pathspec-from-file="$tmp/untracked" --pathspec-file-nul >/dev/null 2>&1 || { fresh; git add -A -N >/dev/null; }
fi
g() {
  git -c core.quotepath=false -c diff.noprefix=false -c diff.mnemonicprefix=false -c diff.relative=false \\
    -c color.ui=false "$@"
}
printf '%s\\n' "$base"
if [ "$4" = patch ]; then
  g diff -z --raw -p --binary --full-index --no-color --no-ext-diff --no-textconv --no-renames -O/dev/null --src-prefix=a/ --dst-prefix=b/ "$base" --
else
  g diff -z --raw --no-renames -O/dev/null "$base" --
fi
`;

export function exportCommand(dir: string, opts: { base: string | null; recordedHead: string | null; what: 'patch' | 'names' }): string {
  return shellCommand(['sh', '-c', EXPORT_SCRIPT, 'banger-export', dir, opts.base ?? '', opts.recordedHead ?? '', opts.what]);
}
