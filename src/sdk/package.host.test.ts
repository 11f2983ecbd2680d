/** `banger/sdk` as a package consumer sees it: resolvable through package.json exports, with types. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../../test/install.fixture.js';
import { run } from '../host/exec.js';

describe('banger/sdk package export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banger-sdk-consumer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'banger'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');

  it('imports at run time', async () => {
    const r = await run([process.execPath, '--input-type=module', '-e', "const m = await import('banger/sdk'); console.log(typeof m.Vm.create, typeof m.NotFoundError, typeof m.Files)"], { cwd: dir, check: true });
    expect(r.stdout.trim()).toBe('function function function');
  });

  it('type-checks a consumer, and a wrong call fails to type-check', async () => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const opts = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--typeRoots', join(REPO, 'node_modules', '@types')];
    writeFileSync(join(dir, 'good.ts'), "import { Vm, type CommandResult } from 'banger/sdk';\nconst vm = await Vm.create({ name: 'x' });\nconst r: CommandResult = await vm.commands.run(['true']);\nawait vm.files.write('/tmp/a', 'b');\nexport { r };\n");
    const good = await run([process.execPath, tsc, ...opts, 'good.ts'], { cwd: dir, check: false });
    expect(good.stdout + good.stderr).toBe('');
    expect(good.code).toBe(0);
    writeFileSync(join(dir, 'bad.ts'), "import { Vm } from 'banger/sdk';\nawait Vm.create({ memoryMib: 'lots' });\n");
    const bad = await run([process.execPath, tsc, ...opts, 'bad.ts'], { cwd: dir, check: false });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/bad.ts\(2,19\): error TS2322: Type 'string' is not assignable to type 'number'/);
  }, 120_000);
});
