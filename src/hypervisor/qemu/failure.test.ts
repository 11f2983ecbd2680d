import { describe, expect, it } from 'vitest';
import { startFailure } from './failure.js';

describe('startFailure', () => {
  it.each([
    ["qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:22-:22: Could not set up host forwarding rule 'tcp:127.0.0.1:22-:22'", 'conflict', /port is already in use/],
    ['qemu-system-x86_64: -drive id=disk0,file=/d.qcow2: Failed to get "write" lock\nIs another process using the image [/d.qcow2]?', 'conflict', /another QEMU/],
    ['Could not access KVM kernel module: No such file or directory\nqemu-system-x86_64: -accel kvm: failed to initialize kvm: No such file or directory', 'unavailable', /"auto" or "tcg"/],
    ["qemu-system-x86_64: -drive id=disk0,file=/nope: Could not open '/nope': No such file or directory", 'not_found', /missing/],
    ['qemu-system-x86_64: something new', 'internal', /exited during start \(exit 1\)\. Last lines/],
    ['qemu-system-x86_64: Not a migration stream\nqemu-system-x86_64: load of migration failed: Invalid argument', 'conflict', /saved state does not load/],
    ["qemu-system-x86_64: backing store size 0x1000 does not match 'size' option 0x80000000", 'conflict', /saved state does not load/],
  ] as const)('%s', (tail, code, message) => {
    const err = startFailure({ exitCode: 1, logPath: '/s/hypervisor.log', tail });
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(tail);
    expect(err.message).toContain('/s/hypervisor.log');
  });

  it("leaves banger's own log lines (the whole command line) out of the message", () => {
    const tail = '[banger] 2026-01-01T00:00:00.000Z starting (restoring /s/state.bin) qemu-system-x86_64 -name guest=k -m 2048M\nqemu-system-x86_64: Not a migration stream';
    const err = startFailure({ exitCode: 1, logPath: '/s/hypervisor.log', tail });
    expect(err.message).not.toContain('-name guest=k');
    expect(err.message).toMatch(/Last lines of \/s\/hypervisor\.log:\nqemu-system-x86_64: Not a migration stream$/);
  });

  it('says when QEMU hung rather than exited', () => {
    expect(startFailure({ exitCode: null, logPath: '/l', tail: '' }).message).toBe('QEMU stopped answering during start. Last lines of /l:\n(empty)');
  });
});
