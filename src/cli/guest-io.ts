/** Runs a command in a VM through the daemon (streamed output, stdin, exit code) or an interactive ssh. */
import type { CliContext } from './context.js';
import { sshClientArgv } from '../guest/sshargv.js';

/**
 * Streams a command through bangerd's pooled SSH connection; returns the guest's exit code. With
 * `reportDrift` the daemon checks the workspace's HEAD against the host repo's in the same call and
 * the warning it sends (workspace/drift.ts) goes to stderr before the command's output.
 */
export async function execInVm(ctx: CliContext, name: string, argv: string[], opts: { cwd?: string; reportDrift?: boolean } = {}): Promise<number> {
  const withStdin = !process.stdin.isTTY;
  const r = await ctx.api(
    'vm.exec',
    { name, argv, cwd: opts.cwd, stdin: withStdin, reportDrift: opts.reportDrift },
    {
      progress: false,
      onProgress: (e) => {
        if (e.stage === 'workspace-drift' && e.message) process.stderr.write(`banger: warning: ${e.message}\n`);
      },
      stdin: withStdin ? process.stdin : undefined,
      onStream: (s, data) => (s === 'stdout' ? process.stdout : process.stderr).write(data),
    },
  );
  if (withStdin) process.stdin.destroy();
  return r.exitCode; // the daemon's decision, 128+N for a signal (guest/exitstatus.ts), as a shell reports it
}

/** An interactive shell (a pty) or a command via the system ssh client, with banger's key and known_hosts. */
export async function sshToVm(ctx: CliContext, name: string, command: string[] | null): Promise<number> {
  const info = await ctx.api('vm.sshInfo', { name }, { progress: false });
  // Every value from the daemon is checked and `--` precedes the destination (guest/sshargv.ts).
  const { spawnProcess } = await import('../host/exec.js'); // child_process loads only for the commands that spawn
  const h = spawnProcess(sshClientArgv(info, command), { stdio: 'inherit' });
  return h.exit;
}
