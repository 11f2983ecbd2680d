import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, type ProcessHandle } from '../../host/exec.js';
import { copyRamOut, ramMemfdPath } from './convert.js';

// A stand-in for QEMU's shared RAM: a process holding a 4 MiB memfd (memfd_create is syscall 319 on
// x86_64) with a few bytes written at 1 MiB, the rest never touched (holes).
const MIB = 1024 ** 2;
const HOLDER = `
my $name = "memory-backend-memfd"; my $fd = syscall(319, $name, 0); die "memfd_create: $!" if $fd < 0;
open(my $fh, "+<&=", $fd) or die "fdopen: $!";
truncate($fh, 4 * 1048576) or die "truncate: $!";
sysseek($fh, 1048576, 0); syswrite($fh, "guest-ram") == 9 or die "write: $!"; close(STDOUT);
$| = 1; sleep 60;
`;

let holder: ProcessHandle;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-ramcopy-'));
  holder = spawnProcess(['perl', '-e', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  // stdout closes once the memfd is written
  await new Promise((r) => holder.child.stdout!.on('close', r));
});

afterAll(async () => {
  holder?.kill('SIGKILL');
  await holder?.exit;
  await rm(dir, { recursive: true, force: true });
});

describe('RAM out of a memfd', () => {
  it('finds the memfd of the RAM size only', () => {
    expect(ramMemfdPath(holder.pid, 4 * MIB)).toMatch(new RegExp(`^/proc/${holder.pid}/fd/\\d+$`));
    expect(() => ramMemfdPath(holder.pid, 8 * MIB)).toThrow(/no shared memory of 8 MiB/);
  });

  it('copies it as a sparse 0600 file with the same bytes', async () => {
    const dest = join(dir, 'memory.bin');
    await copyRamOut(holder.pid, 4, dest);
    const st = await stat(dest);
    expect(st.size).toBe(4 * MIB);
    expect(st.mode & 0o777).toBe(0o600);
    // pages never written stay holes: far less than 4 MiB on disk
    expect(st.blocks * 512).toBeLessThan(MIB);
    const data = await readFile(dest);
    expect(data.subarray(MIB, MIB + 9).toString()).toBe('guest-ram');
    expect(data.subarray(0, MIB).every((b) => b === 0)).toBe(true);
  });
});
