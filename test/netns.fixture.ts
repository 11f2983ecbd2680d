/**
 * Test fixture for bridge mode: a network namespace the test owns, with an isolated banger install
 * whose daemon (and so every QEMU, tap, bridge and iptables rule) lives inside it. The CLI runs
 * through `ip netns exec` too, so a daemon it autostarts lands in the namespace. Not imported by
 * production code. `destroy()` deletes the VMs, stops the daemon, kills strays, deletes the namespace.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from '../src/host/exec.js';
import { freshInstall, REPO, type Install } from './install.fixture.js';

const BANGER = join(REPO, 'bin', 'banger');

export interface NetnsInstall extends Install {
  ns: string;
  /** Runs a command inside the namespace. */
  inNs(argv: string[], opts?: { check?: boolean; timeoutMs?: number; input?: string }): Promise<RunResult>;
  daemonPid(): number | null;
}

export interface NetnsOptions {
  /** config.toml written before the daemon starts. */
  config?: string;
  /** Lines for the namespace's /etc/resolv.conf (`ip netns exec` bind-mounts /etc/netns/NS/resolv.conf). */
  resolvConf?: string;
}

export async function netnsInstall(opts: NetnsOptions = {}): Promise<NetnsInstall> {
  const ns = `bt-ns-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await run(['ip', 'netns', 'add', ns]);
  const etc = join('/etc/netns', ns);
  try {
    await run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    if (opts.resolvConf !== undefined) {
      mkdirSync(etc, { recursive: true });
      writeFileSync(join(etc, 'resolv.conf'), opts.resolvConf);
    }
    // freshInstall seeds the golden kernel+image and starts a daemon in the host namespace: stop that one.
    const base = await freshInstall();
    await base.cli(['daemon', 'stop']);
    for (let i = 0; i < 100 && existsSync(join(base.runtimeDir, 'bangerd.sock')); i++) await new Promise((r) => setTimeout(r, 100));
    if (opts.config !== undefined) {
      mkdirSync(join(base.root, 'config', 'banger'), { recursive: true });
      writeFileSync(join(base.root, 'config', 'banger', 'config.toml'), opts.config);
    }
    const inNs: NetnsInstall['inNs'] = (argv, o = {}) => run(['ip', 'netns', 'exec', ns, ...argv], { env: base.env, check: o.check ?? false, timeoutMs: o.timeoutMs ?? 120_000, input: o.input });
    const cli: Install['cli'] = (args, o = {}) =>
      run(['ip', 'netns', 'exec', ns, process.execPath, BANGER, ...args], { env: base.env, input: o.input, check: o.check ?? false, timeoutMs: o.timeoutMs ?? 900_000 });
    const daemonPid = () => {
      try {
        return Number(readFileSync(join(base.runtimeDir, 'bangerd.pid'), 'utf8')) || null;
      } catch {
        return null;
      }
    };
    const started = await cli(['daemon', 'status']);
    if (started.code !== 0) throw new Error(`daemon did not start in ${ns}: ${started.stderr}`);
    return {
      ...base,
      ns,
      cli,
      inNs,
      daemonPid,
      async destroy() {
        const list = await cli(['vm', 'list', '--json']).catch(() => null);
        if (list && list.code === 0) {
          for (const v of JSON.parse(list.stdout) as Array<{ name: string }>) await cli(['vm', 'delete', v.name]);
        }
        await cli(['daemon', 'stop']).catch(() => undefined);
        // A leak from a failed test (QEMU names its sockets under the runtime dir): end those, by pid.
        const strays = (await run(['pgrep', '-f', base.runtimeDir], { check: false })).stdout.split('\n').map(Number).filter((p) => p > 0);
        for (const pid of strays) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await run(['ip', 'netns', 'del', ns], { check: false });
        rmSync(etc, { recursive: true, force: true });
        rmSync(base.root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await run(['ip', 'netns', 'del', ns], { check: false });
    rmSync(etc, { recursive: true, force: true });
    throw err;
  }
}
