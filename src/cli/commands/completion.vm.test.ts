/**
 * Completion against a real install: the scripts printed by the built `banger completion SHELL`, run in
 * the real shells, with names from the real `banger __complete` and daemon. Needs the golden install
 * (test/install.fixture.ts), so it runs with the VM tests; it boots no VM (`vm create --no-start`).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { which } from '../../host/exec.js';
import { freshInstall, REPO, type Install } from '../../../test/install.fixture.js';
import { SHELLS } from './completion.js';
import { completionCases, shellCompleter, type Completer } from '../../../test/completion.fixture.js';

let inst: Install;
const names = { vms: ['web', 'api-2'], images: [] as string[], kernels: [] as string[] };

beforeAll(async () => {
  inst = await freshInstall();
  for (const vm of names.vms) {
    const r = await inst.cli(['vm', 'create', '--no-start', '--name', vm]);
    if (r.code !== 0) throw new Error(`vm create ${vm}: ${r.stderr}`);
  }
  const listed = async <K extends string>(group: string, key: K) =>
    (JSON.parse((await inst.cli([group, 'list', '--json'], { check: true })).stdout) as Record<K, Array<{ name: string }>>)[key].map((x) => x.name);
  names.images = await listed('image', 'images');
  names.kernels = await listed('kernel', 'kernels');
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

describe('banger __complete', () => {
  it('prints the names the daemon knows, one per line', async () => {
    expect(names.images.length).toBeGreaterThan(0);
    expect(names.kernels.length).toBeGreaterThan(0);
    for (const [kind, want] of Object.entries(names)) {
      const r = await inst.cli(['__complete', kind]);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([...want].sort());
    }
    expect((await inst.cli(['__complete', 'nonsense'])).code).not.toBe(0);
  });

  it('is not listed in help', async () => {
    expect((await inst.cli(['--help'])).stdout).not.toContain('__complete');
  });
});

for (const shell of SHELLS) {
  describe(`banger completion ${shell} in ${shell}`, async () => {
    const present = (await which(shell)) !== null;
    if (!present) console.log(`[completion.vm.test] ${shell} is not installed here: skipped`);
    let complete: Completer;
    let dir: string;
    beforeAll(async () => {
      if (!present) return;
      const script = await inst.cli(['completion', shell], { check: true });
      // The scripts call the `banger` being completed; put the checkout's on PATH, with the install's XDG env.
      ({ complete, dir } = shellCompleter(shell, script.stdout, { ...inst.env, PATH: `${join(REPO, 'bin')}:${process.env.PATH}` }));
    });
    afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));
    // Labels now; the cases themselves once the install's names are known.
    const labels = completionCases({ vms: ['v'], images: ['i'], kernels: ['k'] }).map((c, i) => [c.label, i] as const);
    it.skipIf(!present).each(labels)('%s', async (_label, i) => {
      const c = completionCases(names)[i];
      const got = await complete(c.words);
      if (c.equals) expect([...got].sort()).toEqual([...c.equals].sort());
      if (c.includes) expect(got).toEqual(expect.arrayContaining(c.includes));
      for (const w of c.excludes ?? []) expect(got).not.toContain(w);
    });
  });
}
