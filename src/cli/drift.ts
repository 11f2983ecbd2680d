/**
 * `vm exec` in a workspace: has the host repo's HEAD moved since `workspace prepare` copied it?
 * Then the guest runs older code than the host has, which is easy to miss: say so (or, with
 * --auto-prepare, re-sync first). Pure.
 */
import type { Workspace } from '../api/vm.js';

/** The warning for a moved HEAD, or null when the guest has the host's HEAD. */
export function driftWarning(vm: string, ws: Workspace, hostHead: string): string | null {
  if (hostHead === ws.headCommit) return null;
  return (
    `banger: warning: the host repo ${ws.hostSource} is at ${hostHead.slice(0, 12)} but ${vm}'s workspace was prepared at ${ws.headCommit.slice(0, 12)}; ` +
    `run with --auto-prepare to re-sync it first, or \`banger vm workspace prepare ${vm} ${ws.hostSource}\``
  );
}
