/**
 * `vm exec` in a workspace: has the host repo's HEAD moved since `workspace prepare` copied it? Then
 * the guest runs older code than the host has, which is easy to miss. The daemon checks before the
 * command runs when the client asks (vm.exec's `reportDrift`, what the CLI's `vm exec` does without
 * -w) and sends the warning as a `workspace-drift` progress event, so the CLI needs no `vm.show` and
 * `workspace.plan` round trips before every command; with --auto-prepare the CLI re-syncs instead.
 */
import type { Workspace } from '../api/vm.js';
import { git } from './repo.js';

/** The warning for a moved HEAD, or null when the guest has the host's HEAD. Pure. */
export function driftWarning(vm: string, ws: Workspace, hostHead: string): string | null {
  if (hostHead === ws.headCommit) return null;
  return (
    `the host repo ${ws.hostSource} is at ${hostHead.slice(0, 12)} but ${vm}'s workspace was prepared at ${ws.headCommit.slice(0, 12)}; ` +
    `run with --auto-prepare to re-sync it first, or \`banger vm workspace prepare ${vm} ${ws.hostSource}\``
  );
}

/** The commit HEAD of the repo at `root` points at, or null when it cannot be read (gone, not a repo, no commits). */
export async function hostHead(root: string): Promise<string | null> {
  const r = await git(root, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { check: false }).catch(() => null);
  return r && r.code === 0 ? r.stdoutBytes.toString('utf8').trim() : null;
}

/** The warning for `vm`'s workspace, or null: HEAD unchanged, or the host repo unreadable (nothing to compare with, and the command runs). */
export async function workspaceDrift(vm: string, ws: Workspace): Promise<string | null> {
  const head = await hostHead(ws.hostSource);
  return head ? driftWarning(vm, ws, head) : null;
}
