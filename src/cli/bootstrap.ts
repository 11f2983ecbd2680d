/**
 * `vm run ./repo` bootstraps the repo's own tool pins, as the original did: when the repo has a
 * mise config (.mise.toml, .tool-versions, ...), `mise trust` + `mise install` run in the guest
 * workspace: in the foreground before `-- cmd` (and for -d), in the background for an interactive
 * shell so the prompt comes at once. This file is the pure part: whether a config pins tools, the
 * decision (table-tested), and the guest script. bootstrap-io.ts reads the files and runs it.
 */
import { BangerError } from '../api/errors.js';
import { quote } from '../guest/quote.js';

/** A config file found in the host repo: its path relative to the root, and its text. */
export interface MiseConfigFile {
  path: string;
  text: string;
}

/** Whether a mise config asks for tools (which `mise install` downloads). Pure. */
export function pinsTools(f: MiseConfigFile): boolean {
  const lines = f.text.split('\n').map((l) => l.replace(/#.*$/, '').trim());
  if (f.path.endsWith('.tool-versions')) return lines.some((l) => l !== '');
  // A [tools] table, a [tools.NAME] table, or an inline `tools = { ... }`.
  return lines.some((l) => /^\[\s*tools\s*(\]|\.)/.test(l) || /^tools\s*=/.test(l));
}

export interface BootstrapInputs {
  /** Mise config files of the repo (empty: nothing to bootstrap). */
  configs: readonly MiseConfigFile[];
  noBootstrap: boolean;
  egress: boolean;
  /** An interactive shell follows (no `-- cmd`, no -d): the install runs in the background. */
  interactive: boolean;
}

export type BootstrapPlan =
  | { kind: 'none' }
  | { kind: 'skip'; reason: string }
  | { kind: 'run'; background: boolean; pinsTools: boolean; files: string[] };

/**
 * What `vm run` does about the repo's pins. Throws (before any VM exists) when the repo pins tools
 * but the VM would have no egress to download them. Pure.
 */
export function planBootstrap(i: BootstrapInputs): BootstrapPlan {
  if (i.configs.length === 0) return { kind: 'none' };
  const files = i.configs.map((c) => c.path);
  if (i.noBootstrap) return { kind: 'skip', reason: `--no-bootstrap (${files.join(', ')} not installed)` };
  const pinned = i.configs.filter(pinsTools).map((c) => c.path);
  if (pinned.length > 0 && !i.egress) {
    throw new BangerError(
      'bad_request',
      `the repo pins tools in ${pinned.join(', ')}, which \`mise install\` downloads, but the VM would have no egress (--no-egress): drop --no-egress, or pass --no-bootstrap to skip installing them`,
    );
  }
  return { kind: 'run', background: i.interactive, pinsTools: pinned.length > 0, files };
}

/** Where the background bootstrap writes its output in the guest. */
export const BOOTSTRAP_LOG = '/var/log/banger-bootstrap.log';

/**
 * The guest script: in the workspace, trust its configs and install its tools; everything to stderr
 * (stdout belongs to the command that follows). No mise in the image: says so and succeeds.
 */
export function bootstrapScript(guestPath: string): string {
  return [
    'exec 1>&2',
    `cd ${quote(guestPath)} || exit 1`,
    "if ! command -v mise >/dev/null 2>&1; then echo 'banger: bootstrap: this image has no mise (the default image has it); skipped'; exit 0; fi",
    'export MISE_YES=1',
    'mise trust --all --yes >/dev/null || exit $?',
    'mise install',
  ].join('\n');
}

/** argv for vm.exec: the script in the foreground, or detached (setsid) with its output in BOOTSTRAP_LOG. */
export function bootstrapArgv(guestPath: string, background: boolean): string[] {
  const script = bootstrapScript(guestPath);
  if (!background) return ['sh', '-c', script];
  return ['sh', '-c', `setsid -f sh -c ${quote(script)} >${BOOTSTRAP_LOG} 2>&1 </dev/null`];
}
