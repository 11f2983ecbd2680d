/**
 * The install executor against a temporary root with a recording Systemctl (the named seam) and
 * real unix sockets standing in for the two services, so the wait, its progress lines and the
 * install-ID check run for real.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame, LineDecoder } from '../api/wire.js';
import { systemPaths } from '../store/paths.js';
import { install, restart, uninstall, type SystemDeps } from './install.js';
import { probeSocket } from './probe.js';
import { readInstallRecord } from './record.js';
import type { Systemctl } from './systemctl.js';

let dir: string;
let servers: Server[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'banger-sysinst-'));
  servers = [];
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function recordingSystemctl(calls: string[], onRestart?: () => void): Systemctl {
  return {
    live: true,
    daemonReload: async () => void calls.push('daemon-reload'),
    enable: async (u) => void calls.push(`enable ${u.join(' ')}`),
    restart: async (u) => {
      calls.push(`restart ${u.join(' ')}`);
      onRestart?.();
    },
    disableNow: async (u) => void calls.push(`disable --now ${u.join(' ')}`),
    isActive: async () => 'active',
  };
}

/** A unix socket answering one method in bangerd's framing. */
function serve(socket: string, answer: (method: string) => unknown): void {
  mkdirSync(dirname(socket), { recursive: true });
  const s = createServer((c) => {
    const d = new LineDecoder();
    c.on('data', (b) => {
      for (const l of d.push(b)) c.end(encodeFrame({ result: answer(JSON.parse(l).method) }));
    });
  });
  s.listen(socket);
  servers.push(s);
}

function setup(systemctl: Systemctl, waitMs = 5000) {
  const root = join(dir, 'root');
  mkdirSync(root);
  const home = join(dir, 'home');
  mkdirSync(home);
  const bin = join(dir, 'entry.js');
  writeFileSync(bin, '');
  const lines: string[] = [];
  const deps: SystemDeps = { sys: systemPaths({}, root), systemctl, probe: probeSocket, binaries: { node: process.execPath, daemonEntry: bin, helperEntry: bin }, out: (l) => lines.push(l), waitMs };
  const owner = { name: 'nobody', uid: 65534, gid: 65534, home };
  return { root, home, lines, deps, owner };
}

// The executor chowns the owner's state dir as `sudo banger system install` does: it needs root.
describe.skipIf(process.getuid?.() !== 0)('system install executor (root: chowns to the owner)', () => {
  it('writes units then the record, reloads, enables, restarts, and waits until both sockets answer', async () => {
    const calls: string[] = [];
    let installId = '';
    const { deps, owner, lines } = setup(
      recordingSystemctl(calls, () =>
        // the "services" come up only when systemctl starts them, after the record exists
        setTimeout(() => {
          installId = readInstallRecord(deps.sys.installRecord)!.installId;
          serve(deps.sys.helperSocket, () => ({ version: '0.1.0', installId, ownerUid: owner.uid }));
          serve(deps.sys.daemonSocket, () => ({ pid: 42, socket: deps.sys.daemonSocket, logPath: '/x', stateDir: '/x', version: '0.1.0', commit: 'c', startedAt: 'now', vmsRunning: 0, hypervisor: 'qemu', accel: 'tcg', accelReason: 'r' }));
        }, 600),
      ),
    );
    const rec = await install(owner, deps);
    expect(calls).toEqual(['daemon-reload', 'enable bangerd-root.service bangerd.service', 'restart bangerd-root.service bangerd.service']);
    expect(statSync(deps.sys.installRecord).mode & 0o777).toBe(0o644);
    expect(readInstallRecord(deps.sys.installRecord)).toEqual(rec);
    expect(lines.some((l) => l.startsWith('waiting up to 5s for bangerd-root'))).toBe(true);
    expect(lines.find((l) => l.startsWith('bangerd-root answers'))).toContain(`install ID ${installId}`);
    expect(lines.find((l) => l.startsWith('bangerd answers'))).toContain('pid 42');
    expect(existsSync(rec.stateDir)).toBe(true);
  });

  it('times out with systemctl/journalctl hints and leaves the units installed', async () => {
    const { deps, owner } = setup(recordingSystemctl([]), 800);
    await expect(install(owner, deps)).rejects.toThrow(/no answer within 0.8s from bangerd-root on .*helper.sock \(last: ENOENT\), bangerd on .*bangerd.sock.*journalctl -u bangerd-root.service -u bangerd.service/);
    expect(existsSync(deps.sys.installRecord)).toBe(true);
  });

  it('a unit that fails to start is reported with systemctl/journalctl hints', async () => {
    const failing = { ...recordingSystemctl([]), restart: async () => Promise.reject(new Error('systemctl restart failed with exit 1: Job for bangerd.service failed')) };
    const { deps, owner } = setup(failing);
    await expect(install(owner, deps)).rejects.toThrow(/Job for bangerd.service failed; the units stay installed: see `systemctl status bangerd-root.service bangerd.service`/);
  });

  it('refuses a helper that answers for another install', async () => {
    const { deps, owner } = setup(recordingSystemctl([], () => serve(deps.sys.helperSocket, () => ({ version: '0.1.0', installId: 'ffffffff', ownerUid: owner.uid }))), 3000);
    await expect(install(owner, deps)).rejects.toThrow(/answers for install ffffffff/);
  });

  it('refuses a missing entry point and writes nothing', async () => {
    const { deps, owner, root } = setup(recordingSystemctl([]));
    await expect(install(owner, { ...deps, binaries: { ...deps.binaries, helperEntry: join(dir, 'dist/rootd/main.js') } })).rejects.toThrow(/dist\/rootd\/main.js does not exist; build banger first/);
    expect(existsSync(join(root, 'etc'))).toBe(false);
  });

  it('refuses an owner without a home directory', async () => {
    const { deps, owner } = setup(recordingSystemctl([]));
    await expect(install({ ...owner, home: join(dir, 'nohome') }, deps)).rejects.toThrow(/home .*nohome does not exist/);
  });

  it('restart restarts both units and waits; uninstall disables, removes and reloads', async () => {
    const calls: string[] = [];
    const { deps, owner } = setup({ ...recordingSystemctl(calls), live: false, reason: '--root' });
    await install(owner, deps);
    const live = { ...deps, systemctl: recordingSystemctl(calls), waitMs: 500 };
    await expect(restart(live)).rejects.toThrow(/no answer within/);
    await uninstall({ purge: false, force: false }, live);
    expect(calls).toEqual(['restart bangerd-root.service bangerd.service', 'disable --now bangerd.service bangerd-root.service', 'daemon-reload']);
    expect(existsSync(deps.sys.installRecord)).toBe(false);
  });

  it('uninstall refuses while VMs run, and --purge refuses when bangerd cannot be asked', async () => {
    const { deps, owner } = setup({ ...recordingSystemctl([]), live: false, reason: '--root' });
    await install(owner, deps);
    await expect(uninstall({ purge: true, force: false }, deps)).rejects.toThrow(/cannot tell whether VMs are running: bangerd does not answer/);
    serve(deps.sys.daemonSocket, (m) =>
      m === 'daemon.status'
        ? { pid: 42, socket: 's', logPath: '/x', stateDir: '/x', version: '0.1.0', commit: 'c', startedAt: 'now', vmsRunning: 1, hypervisor: 'qemu', accel: 'tcg', accelReason: 'r' }
        : { vms: [] },
    );
    await expect(uninstall({ purge: false, force: false }, deps)).rejects.toThrow(/VM\(s\) running.*pass --force/);
    expect(existsSync(deps.sys.installRecord)).toBe(true);
  });
});
