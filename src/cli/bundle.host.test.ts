/**
 * bin/banger runs the one-file CLI bundle (scripts/bundle.mjs) through V8's code cache: a copy of
 * bin/ and dist/bundle/ alone (no dist/cli/) is a working CLI; the build's cache is accepted; a changed
 * bundle never runs code from an old cache (V8 itself checks only the source length); start-up loads
 * no package from node_modules nor any API schema module (commands import those when they run);
 * bin/bangerd still starts the daemon. Needs `node scripts/build.mjs`.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import { run } from '../host/exec.js';
import { makeInstall, REPO } from '../../test/install.fixture.js';

const BUNDLE = join(REPO, 'dist', 'bundle', 'banger.cjs');
const cache = (out: string) => /code cache (\w+)/.exec(out)?.[1];

let stage: string;
beforeAll(() => {
  mkdirSync(join(REPO, '.tmp'), { recursive: true });
  stage = mkdtempSync(join(REPO, '.tmp', 'bundle-'));
  cpSync(join(REPO, 'bin'), join(stage, 'bin'), { recursive: true });
  mkdirSync(join(stage, 'dist'));
  cpSync(join(REPO, 'dist', 'bundle'), join(stage, 'dist', 'bundle'), { recursive: true });
  cpSync(join(REPO, 'dist', 'build-info.json'), join(stage, 'dist', 'build-info.json'));
  cpSync(join(REPO, 'package.json'), join(stage, 'package.json'));
});
afterAll(() => {
  if (stage) rmSync(stage, { recursive: true, force: true });
});

const banger = (bin: string, args: string[], env: Record<string, string> = {}) =>
  run([process.execPath, join(bin, 'banger'), ...args], { check: false, env: { ...process.env, BANGER_NO_SYSTEM: '1', ...env } });

describe('the CLI bundle', () => {
  it('is what bin/banger runs: a copy without dist/cli answers --version, --help and unknown commands', async () => {
    expect(existsSync(BUNDLE)).toBe(true);
    expect(existsSync(join(stage, 'dist', 'cli'))).toBe(false);
    const v = await banger(join(stage, 'bin'), ['--version']);
    expect(v.code, v.stderr).toBe(0);
    const info = JSON.parse(readFileSync(join(REPO, 'dist', 'build-info.json'), 'utf8')) as { version: string; commit: string; builtAt: string };
    expect(v.stdout.trim()).toBe(`banger ${info.version} (commit ${info.commit}, built ${info.builtAt})`);
    const help = await banger(join(stage, 'bin'), ['--help']);
    expect(help.code).toBe(0);
    for (const c of ['vm', 'daemon', 'image', 'kernel', 'completion', 'doctor']) expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    const bad = await banger(join(stage, 'bin'), ['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
    const vmHelp = await banger(join(stage, 'bin'), ['vm', '--help']);
    for (const c of ['create', 'run', 'list', 'exec', 'ssh', 'workspace']) expect(vmHelp.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('a reader that leaves early (`| head`) ends the output quietly, as for cat', async () => {
    const r = await run(['sh', '-c', `"${process.execPath}" "${join(REPO, 'bin', 'banger')}" --help | head -c 5; echo " status=\${PIPESTATUS:-x}"`], { check: false, env: { ...process.env, BANGER_NO_SYSTEM: '1' } });
    expect(r.stdout).toMatch(/^Usage/);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
  });

  it('a missing bundle is named, with the build command', async () => {
    const empty = mkdtempSync(join(stage, 'nobundle-'));
    cpSync(join(stage, 'bin'), join(empty, 'bin'), { recursive: true });
    const r = await banger(join(empty, 'bin'), ['--version']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/banger: cannot read .*dist\/bundle\/banger\.cjs \(ENOENT\); build it with `node scripts\/build\.mjs`/);
  });

  it('the build wrote a code cache that V8 accepts', async () => {
    expect(existsSync(`${BUNDLE}.v8cache`)).toBe(true);
    const r = await banger(join(REPO, 'bin'), ['--version'], { BANGER_DEBUG_CODE_CACHE: '1' });
    expect(r.code).toBe(0);
    expect(cache(r.stderr)).toBe('accepted');
  });

  it('a bundle changed in place (same size) runs its own code, not the cached one', async () => {
    const bin = join(stage, 'bin');
    const file = join(stage, 'dist', 'bundle', 'banger.cjs');
    const dbg = { BANGER_DEBUG_CODE_CACHE: '1' };
    await banger(bin, ['--help'], dbg); // the copy's cache (the copy has another mtime: rewritten here)
    const before = await banger(bin, ['--help'], dbg);
    expect(cache(before.stderr)).toBe('accepted');
    expect(before.stdout).toContain('one-command development sandboxes on microVMs');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('one-command development sandboxes on microVMs', 'ONE-COMMAND DEVELOPMENT SANDBOXES ON MICROVMS'));
    expect(readFileSync(file).length).toBe(Buffer.byteLength(text));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const after = await banger(bin, ['--help'], dbg);
    expect(after.code).toBe(0);
    expect(cache(after.stderr)).not.toBe('accepted');
    expect(after.stdout).toContain('ONE-COMMAND DEVELOPMENT SANDBOXES ON MICROVMS');
    expect(cache((await banger(bin, ['--help'], dbg)).stderr)).toBe('accepted'); // rewritten for the new bundle
  });

  it('start-up loads no package from node_modules (commands import heavy parts in their actions)', async () => {
    const log = join(stage, 'loads.log');
    const hook = join(stage, 'hook.mjs');
    // CommonJS requires (the bundle's) and ES module resolutions (an unbundled CLI), both written to `log`.
    writeFileSync(
      hook,
      [
        "import Module, { register } from 'node:module';",
        "import { appendFileSync } from 'node:fs';",
        `const log = ${JSON.stringify(log)};`,
        'const load = Module._load;',
        "Module._load = function (req, parent, isMain) { const f = isMain || Module.isBuiltin(req) ? '' : Module._resolveFilename(req, parent); if (f.includes('/node_modules/')) appendFileSync(log, `${f}\\n`); return load.apply(this, arguments); };",
        `register('data:text/javascript,' + encodeURIComponent(\`import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/node_modules/')) appendFileSync(${JSON.stringify(log)}, r.url + '\\\\n'); return r; }\`));`,
      ].join('\n'),
    );
    for (const args of [['--version'], ['--help'], ['vm', 'list', '--help']]) {
      writeFileSync(log, '');
      const r = await run([process.execPath, '--import', hook, join(REPO, 'bin', 'banger'), ...args], { check: false });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(log, 'utf8'), `banger ${args.join(' ')}`).toBe('');
    }
  });

  it('start-up evaluates no API method schemas, system install or doctor code: the command that runs imports them', async () => {
    // The modules every start evaluates: those reached from dist/cli/main.js through static imports
    // (a dynamic import() is a lazy init in the bundle, run only when its command does).
    const { bundleOptions } = (await import(join(REPO, 'scripts', 'bundle.mjs'))) as { bundleOptions(entry: string, outfile: string): object };
    const esbuild = await import('esbuild');
    const opts = bundleOptions(join(REPO, 'dist', 'cli', 'main.js'), join(stage, 'eager.cjs')) as Parameters<typeof esbuild.build>[0];
    const { metafile } = await esbuild.build({ ...opts, write: false, logLevel: 'silent' });
    const inputs = metafile!.inputs;
    const entry = Object.keys(inputs).find((k) => k.endsWith('dist/cli/main.js'))!;
    const eager = new Set<string>();
    const todo = [entry];
    while (todo.length) {
      const k = todo.pop()!;
      if (eager.has(k)) continue;
      eager.add(k);
      for (const i of inputs[k]?.imports ?? []) if (i.kind === 'import-statement' && !i.external) todo.push(i.path);
    }
    const dist = [...eager].map((k) => k.slice(k.lastIndexOf('dist/'))).filter((k) => k.startsWith('dist/'));
    expect(dist).toContain('dist/cli/commands/vm-list.js'); // the analysis sees the command modules
    const heavy = /^dist\/(api\/(methods|lazymethods|client|wire|daemon|vm|image|kernel|network|snapshot|workspace|ui)\.js|system\/(install|status|probe|plan)\.js|doctor\/|config\/|host\/exec\.js)/;
    expect(dist.filter((k) => heavy.test(k))).toEqual([]);
  });

  it('parses with zod without compiling code (jitless: a command parses each schema once or twice)', async () => {
    // Counts what zod's JIT would construct; an object schema's first parse compiles one otherwise.
    const hook = join(stage, 'fncount.cjs');
    writeFileSync(
      hook,
      "const F = globalThis.Function; let n = 0; globalThis.Function = new Proxy(F, { construct(t, a, nt) { n++; return Reflect.construct(t, a, nt); }, apply(t, th, a) { n++; return Reflect.apply(t, th, a); } }); process.on('exit', () => process.stderr.write(`Function constructions: ${n}\\n`));\n",
    );
    // WorkspacePrepareParams (an object schema) refuses the flag before any daemon is needed.
    const r = await run([process.execPath, '--require', hook, join(REPO, 'bin', 'banger'), 'vm', 'workspace', 'prepare', 'x', stage, '--guest-path', 'rel'], {
      check: false,
      env: { ...process.env, BANGER_NO_SYSTEM: '1', XDG_RUNTIME_DIR: join(stage, 'run'), XDG_STATE_HOME: join(stage, 'state'), XDG_CONFIG_HOME: join(stage, 'config') },
    });
    expect(r.stderr).toMatch(/guest paths must be absolute/);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Function constructions: 0\n/);
  });

  it("a command's import() of a package outside the bundle works when the code comes from the cache", async () => {
    // A stand-in CLI: bundled the same way, its main imports an external package (ws) and a bundled one (zod) lazily.
    const dir = mkdtempSync(join(stage, 'lazy-'));
    mkdirSync(join(dir, 'dist', 'x'), { recursive: true });
    writeFileSync(
      join(dir, 'dist', 'x', 'main.js'),
      "export async function main() { const ws = await import('ws'); const { z } = await import('zod'); process.stdout.write(`${typeof ws.WebSocket} ${typeof z.object}\\n`); }\n",
    );
    const { bundleOptions } = (await import(join(REPO, 'scripts', 'bundle.mjs'))) as { bundleOptions(entry: string, outfile: string): object };
    const esbuild = await import('esbuild');
    await esbuild.build(bundleOptions(join(dir, 'dist', 'x', 'main.js'), join(dir, 'dist', 'bundle', 'banger.cjs')) as Parameters<typeof esbuild.build>[0]);
    cpSync(join(REPO, 'bin'), join(dir, 'bin'), { recursive: true });
    for (const expected of ['absent', 'accepted', 'accepted']) {
      const r = await banger(join(dir, 'bin'), [], { BANGER_DEBUG_CODE_CACHE: '1' });
      expect(cache(r.stderr)).toBe(expected);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('function function\n');
      expect(r.stderr).not.toMatch(/Warning/);
    }
  });

  it('bin/bangerd starts the daemon from dist/', async () => {
    const inst = makeInstall(mkdtempSync('/tmp/bb-'));
    inst.env.BANGER_NO_SYSTEM = '1';
    try {
      const d = run([process.execPath, join(REPO, 'bin', 'bangerd')], { env: inst.env, check: false, timeoutMs: 60_000 });
      const socket = join(inst.runtimeDir, 'bangerd.sock');
      let status: { pid: number } | null = null;
      for (let i = 0; i < 300 && !status; i++) {
        status = await call(socket, 'daemon.status', {}).catch(() => null);
        if (!status) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status?.pid).toBeGreaterThan(0);
      await call(socket, 'daemon.stop', {});
      expect((await d).code).toBe(0);
    } finally {
      await inst.destroy();
    }
  });
});
