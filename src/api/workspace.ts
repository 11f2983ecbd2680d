/**
 * The workspace API: copy a host git repo into a VM (`workspace.prepare`, planned without a VM by
 * `workspace.plan`) and bring the guest's changes back as a patch (`workspace.export`). What prepare records on the VM is `Workspace`
 * (api/vm.ts). Schemas are strict: unknown fields are errors.
 */
import { z } from 'zod';
import { WorkspaceMode } from './enums.js';
import { Workspace } from './vm.js';
import { DEFAULT_GUEST_PATH, MISE_CONFIG_FILES } from './defaults.js';

export { WorkspaceMode } from './enums.js';

export { DEFAULT_GUEST_PATH };

export { MISE_CONFIG_FILES };

/** Why a guest path is refused, or null when it is acceptable: absolute, no `..`, not `/`, no NUL. */
export function guestPathProblem(p: string): string | null {
  if (!p.startsWith('/')) return 'guest paths must be absolute (e.g. /root/repo)';
  if (p.includes('\0')) return 'guest paths cannot contain NUL';
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return 'guest paths cannot contain ".."';
  if (parts.length === 0) return 'the guest path cannot be /';
  return null;
}

/** `/root//repo/./` → `/root/repo` (after guestPathProblem accepted it). */
export const normalizeGuestPath = (p: string): string => `/${p.split('/').filter((s) => s !== '' && s !== '.').join('/')}`;

export const GuestPath = z
  .string()
  .superRefine((p, ctx) => {
    const why = guestPathProblem(p);
    if (why) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)}: ${why}` });
  })
  .transform(normalizeGuestPath);

const HostPath = z.string().refine((p) => p.startsWith('/'), 'expected an absolute host path');

/** A commit id as a user types it: 4 to 64 hex digits. */
export const CommitId = z.string().regex(/^[0-9a-fA-F]{4,64}$/, 'expected a commit id (hex), e.g. 1a2b3c4d');

/** A branch or revision name; git checks the details (check-ref-format / rev-parse) on the host. */
const RefText = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.startsWith('-') && !/[\0\n]/.test(s), 'not a valid git name');

/** What to copy from the host repo: the fields prepare and plan share. */
const planFields = {
  /** Any directory inside the host repo (absolute; the daemon reads it as the same user). */
  hostPath: HostPath,
  mode: WorkspaceMode.default('shallow'),
  /** Create (or reset) this branch in the guest and check it out. */
  branch: RefText.optional(),
  /** Start `branch` here instead of HEAD: the guest gets this commit's tree, not the working tree. */
  from: RefText.optional(),
  /** Also copy untracked files that are not ignored. */
  includeUntracked: z.boolean().default(false),
};

/** The combinations of planFields that are refused, for both schemas. */
function refinePlanFields<T extends z.ZodType<{ from?: string; branch?: string; includeUntracked: boolean }>>(schema: T) {
  return schema
    .refine((p) => p.from === undefined || p.branch !== undefined, { message: '--from needs --branch (the branch to create from it)', path: ['from'] })
    .refine((p) => p.from === undefined || !p.includeUntracked, {
      message: '--include-untracked copies working-tree files, --from copies a commit: use one of them',
      path: ['includeUntracked'],
    });
}

export const WorkspacePrepareParams = refinePlanFields(
  z
    .object({
      /** VM name. */
      name: z.string().min(1),
      guestPath: GuestPath.default(DEFAULT_GUEST_PATH),
      ...planFields,
    })
    .strict(),
);
export type WorkspacePrepareParams = z.input<typeof WorkspacePrepareParams>;

/** One file of the planned file set. */
export const PlannedFile = z
  .object({
    path: z.string(),
    /** `file`, `exec` (executable file) or `symlink`. */
    kind: z.enum(['file', 'exec', 'symlink']),
    /** Permission bits as the host has them, e.g. 0o644. */
    mode: z.number().int(),
    size: z.number().int().nonnegative(),
    /** Tracked by git, or untracked and copied because of --include-untracked. */
    tracked: z.boolean(),
  })
  .strict();
export type PlannedFile = z.infer<typeof PlannedFile>;

/** What prepare copies: what `--dry-run` prints (the `workspace.plan` result). */
export const WorkspacePlan = z
  .object({
    mode: WorkspaceMode,
    root: z.string(),
    headCommit: z.string(),
    /** The host's current branch (null: detached HEAD). */
    hostBranch: z.string().nullable(),
    /** Empty when the plan was asked for with listFiles: false. */
    files: z.array(PlannedFile),
    fileCount: z.number().int(),
    bytes: z.number().int(),
    /** Submodule paths (refused in shallow mode). */
    submodules: z.array(z.string()),
    /** Paths left out, with the reason (deleted in the working tree, nested repository). */
    skipped: z.array(z.object({ path: z.string(), reason: z.string() }).strict()),
    /** Tracked files whose working-tree content differs from HEAD (carried as uncommitted changes). */
    modified: z.array(z.string()),
  })
  .strict();
export type WorkspacePlan = z.infer<typeof WorkspacePlan>;

/** `workspace.plan`: what prepare would copy, computed by the daemon from the host repo alone (no VM). */
export const WorkspacePlanParams = refinePlanFields(
  z
    .object({
      ...planFields,
      /** false: leave `files` empty (the counts stay); for checks that need no listing. */
      listFiles: z.boolean().default(true),
    })
    .strict(),
);
export type WorkspacePlanParams = z.input<typeof WorkspacePlanParams>;

export const WorkspacePrepareResult = z
  .object({
    workspace: Workspace,
    fileCount: z.number().int(),
    bytes: z.number().int(),
    /** Bytes of git objects shipped (the pack). */
    packBytes: z.number().int(),
    /**
     * The commit the guest's working tree was copied from: headCommit when the host tree was clean,
     * else a commit on top of it holding the host's uncommitted changes (guest ref refs/banger/prepared).
     */
    preparedCommit: z.string(),
    skipped: z.array(z.object({ path: z.string(), reason: z.string() }).strict()),
    elapsedMs: z.number().int(),
  })
  .strict();
export type WorkspacePrepareResult = z.infer<typeof WorkspacePrepareResult>;

export const WorkspaceExportParams = z
  .object({
    name: z.string().min(1),
    /** Default: the recorded workspace. */
    guestPath: GuestPath.optional(),
    /** Default: the prepared state (refs/banger/prepared in the guest, else the recorded head commit). */
    baseCommit: CommitId.optional(),
    /** List changed files only; no patch is streamed. */
    nameOnly: z.boolean().default(false),
    /** Apply to the host repo (3-way) instead of streaming the patch. */
    apply: z.boolean().default(false),
    /** Host repo to apply to; default: the workspace's host source. */
    repo: HostPath.optional(),
  })
  .strict()
  .refine((p) => p.repo === undefined || p.apply, { message: '--repo goes with --apply', path: ['repo'] })
  .refine((p) => !(p.apply && p.nameOnly), { message: '--name-only and --apply exclude each other', path: ['apply'] });
export type WorkspaceExportParams = z.input<typeof WorkspaceExportParams>;

/** The patch itself streams on stdout frames (unless nameOnly or apply); this is what comes after. */
export const WorkspaceExportResult = z
  .object({
    baseCommit: z.string(),
    /** Changed paths, relative to the repo root. */
    files: z.array(z.string()),
    /** Patch size in bytes (0 with nameOnly). */
    bytes: z.number().int(),
    /** The host repo the patch was applied to, when apply was asked for. */
    appliedTo: z.string().nullable(),
  })
  .strict();
export type WorkspaceExportResult = z.infer<typeof WorkspaceExportResult>;

export const workspaceMethods = {
  'workspace.plan': { params: WorkspacePlanParams, result: WorkspacePlan },
  'workspace.prepare': { params: WorkspacePrepareParams, result: WorkspacePrepareResult },
  'workspace.export': { params: WorkspaceExportParams, result: WorkspaceExportResult },
} as const;
