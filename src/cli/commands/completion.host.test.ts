/**
 * Completion: the tree read from the real program, and the generated bash/zsh/fish scripts run in
 * the real shells. Names come from a stand-in `banger` on PATH that answers `__complete KIND` (the
 * seam the scripts call); completion.vm.test.ts runs the same scripts against a real install.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { which } from '../../host/exec.js';
import { buildProgram } from '../main.js';
import { completionScript, completionTree, listNames } from './completion.js';
import { completionCases, shellCompleter, type CompletionCase, type Completer } from '../../../test/completion.fixture.js';

const node = (path: string) => completionTree(buildProgram()).find((n) => n.path === path);

describe('completionTree', () => {
  it('lists visible commands, and never the hidden __complete', () => {
    const root = node('banger')!;
    const names = root.subcommands.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['vm', 'image', 'kernel', 'daemon', 'doctor', 'completion', 'version']));
    expect(names).not.toContain('__complete');
    expect(root.options.flatMap((o) => o.flags)).toEqual(expect.arrayContaining(['-V', '--version', '-h', '--help']));
  });

  it.each([
    ['banger vm start', { kind: 'vms', variadic: true }],
    ['banger vm delete', { kind: 'vms', variadic: true }],
    ['banger vm set', { kind: 'vms', variadic: true }],
    ['banger vm exec', { kind: 'vms', variadic: false }],
    ['banger image export', { kind: 'images', variadic: false }],
    ['banger image delete', { kind: 'images', variadic: true }],
    ['banger kernel show', { kind: 'kernels', variadic: false }],
    ['banger kernel import', undefined],
    ['banger image pull', undefined],
    ['banger vm create', undefined],
    ['banger vm list', undefined],
  ] as const)('%s takes %j', (path, args) => {
    expect(node(path)!.args).toEqual(args);
  });

  it('knows aliases, value-taking options and options that name images', () => {
    expect(node('banger vm')!.subcommands.find((s) => s.name === 'delete')!.aliases).toContain('rm');
    const image = node('banger vm create')!.options.find((o) => o.flags.includes('--image'))!;
    expect(image).toMatchObject({ takesValue: true, kind: 'images' });
    expect(node('banger vm stop')!.options.find((o) => o.flags.includes('--timeout'))).toMatchObject({ flags: ['-t', '--timeout'], takesValue: true });
    expect(node('banger vm list')!.options.find((o) => o.flags.includes('--json'))!.takesValue).toBe(false);
  });
});

describe('listNames', () => {
  it('offers nothing (and starts nothing) when no daemon answers', async () => {
    expect(await listNames('vms', join(tmpdir(), `no-such-banger-${process.pid}.sock`))).toEqual([]);
  });
});

const FAKE_NAMES = { vms: ['web', 'api-2'], images: ['debian-bookworm', 'alpine'], kernels: ['debian-cloud'] };

describe('generated scripts in real shells (stand-in banger)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bcomp-fake-'));
    const fake = join(dir, 'banger');
    writeFileSync(
      fake,
      `#!/bin/sh\n[ "$1" = __complete ] || exit 2\ncase "$2" in\n${Object.entries(FAKE_NAMES)
        .map(([k, v]) => `  ${k}) printf '%s\\n' ${v.join(' ')} ;;`)
        .join('\n')}\n  *) exit 3 ;;\nesac\n`,
    );
    chmodSync(fake, 0o755);
    env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    describe(shell, () => {
      let complete: Completer;
      let scriptDir: string;
      let present = true;
      beforeAll(async () => {
        present = (await which(shell)) !== null;
        if (!present) console.log(`[completion.host.test] ${shell} is not installed: its script is only generated, not run`);
        ({ complete, dir: scriptDir } = shellCompleter(shell, completionScript(shell, buildProgram()), env));
      });
      afterAll(() => rmSync(scriptDir, { recursive: true, force: true }));
      it('generates a script that mentions every top-level command', () => {
        const script = completionScript(shell, buildProgram());
        for (const w of ['vm', 'image', 'kernel', 'doctor', '__complete']) expect(script).toContain(w);
      });
      for (const c of completionCases(FAKE_NAMES)) {
        it(c.label, async ({ skip }) => {
          if (!present) skip();
          expectOffered(await complete(c.words), c);
        });
      }
    });
  }
});

export function expectOffered(got: string[], c: CompletionCase): void {
  if (c.equals) expect([...got].sort()).toEqual([...c.equals].sort());
  if (c.includes) expect(got).toEqual(expect.arrayContaining(c.includes));
  for (const w of c.excludes ?? []) expect(got).not.toContain(w);
}
