/**
 * `vm exec` in a workspace runs inside `mise exec` when the guest has mise and the workspace has a
 * mise config (api/workspace.ts MISE_CONFIG_FILES), so the repo's `[env]` and tool versions apply
 * as they do for `mise run`. Without either it is the plain command. Tools are never installed on
 * the way (bootstrap is `vm run`'s job): a missing one is mise's clear error. Pure.
 */
import { MISE_CONFIG_FILES } from '../api/workspace.js';
import { quote, shellCommand } from '../guest/quote.js';

/** The guest shell line: `cd DIR && if <mise and a config>; then mise exec -- ARGV; else ARGV; fi`. */
export function workspaceCommand(dir: string, argv: readonly string[]): string {
  const anyConfig = MISE_CONFIG_FILES.map((f) => `[ -f ${quote(f)} ]`).join(' || ');
  const cmd = shellCommand(argv);
  return `cd ${quote(dir)} && if command -v mise >/dev/null 2>&1 && { ${anyConfig}; }; then MISE_EXEC_AUTO_INSTALL=0 MISE_YES=1 mise exec -- ${cmd}; else ${cmd}; fi`;
}
