/** Runs a command in a VM through the daemon (streamed output, stdin, exit code) or an interactive ssh. */
import type { CliContext } from './context.js';
import { spawnProcess } from '../host/exec.js';
import { inDirectory, inDirectoryRaw } from '../guest/quote.js';

/** Streams a command through bangerd's pooled SSH connection; returns the guest's exit code. */
export async function execInVm(ctx: CliContext, name: string, argv: string[], opts: { cwd?: string } = {}): Promise<number> {
  const withStdin = !process.stdin.isTTY;
  const r = await ctx.api(
    'vm.exec',
    { name, argv, cwd: opts.cwd, stdin: withStdin },
    {
      progress: false,
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
  const argv = [
    'ssh',
    '-i', info.keyPath,
    '-o', `UserKnownHostsFile=${info.knownHostsPath}`,
    '-o', `HostKeyAlias=${info.hostKeyAlias}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
    '-p', String(info.port),
  ];
  if (!command || command.length === 0) {
    argv.push('-t', `${info.user}@${info.host}`);
    if (info.cwd) argv.push(inDirectory(info.cwd, ['sh', '-c', 'exec "${SHELL:-/bin/sh}" -l']));
  } else {
    // Like ssh: the words form one shell command line in the guest (`vm exec` is the argv-exact way).
    const line = command.join(' ');
    argv.push(`${info.user}@${info.host}`, '--', info.cwd ? inDirectoryRaw(info.cwd, line) : line);
  }
  const h = spawnProcess(argv, { stdio: 'inherit' });
  return h.exit;
}
