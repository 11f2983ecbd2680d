/** The SDK against a real daemon and guest: handles, commands, typed errors. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstall, type Install } from '../../test/install.fixture.js';
import { CommandExitError, ConflictError, NotFoundError, Vm } from './index.js';

let inst: Install;
let conn: { socketPath: string };
beforeAll(async () => {
  inst = await freshInstall();
  conn = { socketPath: join(inst.runtimeDir, 'bangerd.sock') };
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

describe('SDK', () => {
  it('maps error codes to classes callers can branch on', async () => {
    await expect(Vm.connect('ghost', conn)).rejects.toBeInstanceOf(NotFoundError);
    const cold = await Vm.create({ name: 'sdk-cold', start: false }, conn);
    expect(cold.info.state).toBe('stopped');
    await expect(cold.commands.run(['true'])).rejects.toBeInstanceOf(ConflictError);
    await cold.delete();
    expect((await Vm.list(conn)).map((v) => v.name)).toEqual([]);
  });

  it('creates a VM, runs commands with stdin and streamed output, and deletes it', async () => {
    const vm = await Vm.create({ name: 'sdk' }, conn);
    expect(vm.info.state).toBe('running');
    const chunks: string[] = [];
    const r = await vm.commands.run(['sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3'], { stdin: 'hello\n', onStdout: (t) => chunks.push(t) });
    expect(r).toEqual({ exitCode: 3, stdout: 'HELLO\n', stderr: 'oops\n' });
    expect(chunks.join('')).toBe('HELLO\n');
    const failed = await vm.commands.run(['false'], { check: true }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect((failed as CommandExitError).result.exitCode).toBe(1);
    expect((await Vm.connect('sdk', conn)).info.ssh?.host).toBe('127.0.0.1');

    // files: text, bytes, many at once, odd names, listing, info, rename, remove, errors
    const odd = "/tmp/sdk/$(touch pwned) 'q\".txt";
    await vm.files.write(odd, 'odd\n');
    expect(await vm.files.read(odd)).toBe('odd\n');
    expect(await vm.files.exists('/tmp/sdk/pwned')).toBe(false);
    const bytes = Buffer.from([0, 255, 10, 13, 128]);
    await vm.files.write([{ path: '/tmp/sdk/bin/b.dat', data: bytes }, { path: '/tmp/sdk/c.txt', data: 'c' }]);
    expect(await vm.files.read('/tmp/sdk/bin/b.dat', { format: 'bytes' })).toEqual(bytes);
    expect((await vm.files.list('/tmp/sdk')).map((e) => [e.name, e.type])).toEqual([
      ["$(touch pwned) 'q\".txt", 'file'],
      ['bin', 'dir'],
      ['c.txt', 'file'],
    ]);
    expect((await vm.files.list('/tmp/sdk', { depth: 2 })).map((e) => e.name)).toContain('b.dat');
    expect(await vm.files.getInfo('/tmp/sdk/bin/b.dat')).toMatchObject({ type: 'file', size: 5 });
    await vm.files.rename('/tmp/sdk/c.txt', '/tmp/sdk/d.txt');
    expect(await vm.files.exists('/tmp/sdk/c.txt')).toBe(false);
    await vm.files.makeDir('/tmp/sdk/e/f');
    await vm.files.remove('/tmp/sdk/bin');
    expect((await vm.files.list('/tmp/sdk')).map((e) => e.name).sort()).toEqual(["$(touch pwned) 'q\".txt", 'd.txt', 'e']);
    await expect(vm.files.read('/tmp/sdk/missing')).rejects.toMatchObject({ code: 'not_found' });

    // background commands: they run while the caller goes on, and kill stops them in the guest
    const bg = vm.commands.run(['sh', '-c', 'echo started > /tmp/bg; sleep 601'], { background: true });
    const sleepers = async () => (await vm.commands.run(['sh', '-c', 'ps -eo args= | grep -cx "sleep 60[1]"'])).stdout.trim();
    await expect.poll(() => vm.files.exists('/tmp/bg'), { timeout: 30_000 }).toBe(true);
    expect(await sleepers()).toBe('1');
    bg.kill();
    await expect(bg.wait()).rejects.toThrow();
    await expect.poll(sleepers, { timeout: 30_000 }).toBe('0');
    const quick = vm.commands.run(['sh', '-c', 'echo done'], { background: true });
    expect((await quick.wait()).stdout).toBe('done\n');
    await expect(vm.commands.run(['sleep', '60'], { timeoutMs: 1500 })).rejects.toThrow(/did not finish in 1500 ms/);
    await vm.delete();
    await expect(vm.refresh()).rejects.toBeInstanceOf(NotFoundError);
  }, 900_000);
});
