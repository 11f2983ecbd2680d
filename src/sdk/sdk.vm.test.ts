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
    await vm.delete();
    await expect(vm.refresh()).rejects.toBeInstanceOf(NotFoundError);
  });
});
