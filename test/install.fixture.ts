/**
 * Test fixture for tests that boot VMs: an isolated banger install (own XDG dirs, own daemon)
 * that starts from a "golden" state holding the default kernel and image, built once per
 * artifact-code version with the real `banger kernel pull` / `banger image build` and then
 * hard-linked into each test's state dir (instant, no copy).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../src/host/exec.js';

/** The repository root: the nearest ancestor holding bin/banger (this file runs from test/ under vitest
 * and from .tmp/test-dist/test/ when compiled for the benches). */
export const REPO = findRepo(dirname(fileURLToPath(import.meta.url)));
function findRepo(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'bin', 'banger')) && existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`no banger repository above ${from}`);
  }
}
const BANGER = join(REPO, 'bin', 'banger');

export interface Install {
  root: string;
  env: NodeJS.ProcessEnv;
  stateDir: string;
  runtimeDir: string;
  /** Runs the real CLI against this install. */
  cli(args: string[], opts?: { input?: string | Buffer; check?: boolean; timeoutMs?: number }): Promise<RunResult>;
  /** Deletes every VM, stops the daemon, kills strays, removes the directories. */
  destroy(): Promise<void>;
}

export function installEnv(root: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_STATE_HOME: join(root, 'state'),
    XDG_CACHE_HOME: process.env.BANGER_TEST_CACHE ?? '/var/tmp/banger-test-cache',
    XDG_RUNTIME_DIR: join(root, 'run'),
    BANGER_LOG_LEVEL: 'debug',
  };
}

export function makeInstall(root: string): Install {
  const env = installEnv(root);
  const stateDir = join(root, 'state', 'banger');
  const runtimeDir = join(root, 'run', 'banger');
  const cli: Install['cli'] = (args, opts = {}) =>
    run([process.execPath, BANGER, ...args], { env, input: opts.input, check: opts.check ?? false, timeoutMs: opts.timeoutMs ?? 900_000 });
  return {
    root,
    env,
    stateDir,
    runtimeDir,
    cli,
    async destroy() {
      await cli(['vm', 'prune', '-f']).catch(() => undefined);
      const list = await cli(['vm', 'list', '--json']).catch(() => null);
      if (list && list.code === 0) {
        for (const v of JSON.parse(list.stdout) as Array<{ name: string }>) await cli(['vm', 'delete', v.name]);
      }
      await cli(['daemon', 'stop']).catch(() => undefined);
      // Anything still holding this install's runtime dir is a leak from a failed test: end it.
      await run(['pkill', '-9', '-f', runtimeDir], { check: false });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Hash of the code that shapes artifacts: a change rebuilds the golden state. */
function artifactsVersion(): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.test.ts')) h.update(p.slice(REPO.length)).update(readFileSync(p));
    }
  };
  walk(join(REPO, 'src', 'artifacts'));
  return h.digest('hex').slice(0, 12);
}

/**
 * Which image the golden state holds as `debian-bookworm`: `minimal` (the small image, what the
 * general suite boots: fast to build and boot) or `default` (the rich image, for the tests about it).
 */
export type GoldenVariant = 'minimal' | 'default';

/** The golden install: default kernel and image registered, no VMs, daemon stopped. */
export async function goldenState(variant: GoldenVariant = 'minimal'): Promise<string> {
  const base = process.env.BANGER_TEST_GOLDEN ?? '/var/tmp/banger-test-golden';
  const root = `${base}-${variant === 'minimal' ? '' : `${variant}-`}${artifactsVersion()}`;
  if (existsSync(join(root, 'READY'))) return root;
  // Built aside and renamed into place, so concurrent test runs never see (or delete) a half-built one.
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const g = makeInstall(building);
  const t0 = Date.now();
  try {
    for (const args of [['kernel', 'pull'], ['image', 'build', '--variant', variant]]) {
      const r = await g.cli(args, { timeoutMs: 1_500_000 });
      if (r.code !== 0) throw new Error(`golden ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    }
    const images = JSON.parse((await g.cli(['image', 'list', '--json'])).stdout) as { images: unknown[] };
    if (images.images.length !== 1) throw new Error('golden state: the default image is not registered');
  } finally {
    // Waits for the daemon to exit, so its database is closed (WAL checkpointed) before anyone copies it.
    await g.cli(['daemon', 'stop']);
  }
  writeFileSync(join(building, 'READY'), `built in ${Date.now() - t0} ms\n`);
  try {
    renameSync(building, root);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another run finished first
  }
  return root;
}

/** A fresh install with the golden kernel and image (the minimal one unless asked), its daemon started. */
export async function freshInstall(variant: GoldenVariant = 'minimal'): Promise<Install> {
  const golden = await goldenState(variant);
  // Short root: unix socket paths must stay under 108 bytes.
  const root = mkdtempSync('/tmp/bt-');
  const inst = makeInstall(root);
  try {
    mkdirSync(inst.stateDir, { recursive: true, mode: 0o700 });
    const gState = join(golden, 'state', 'banger');
    for (const d of ['kernels', 'images']) {
      if (existsSync(join(gState, d))) await run(['cp', '-al', join(gState, d), join(inst.stateDir, d)]);
    }
    for (const f of ['banger.db', 'banger.db-wal']) {
      if (existsSync(join(gState, f))) copyFileSync(join(gState, f), join(inst.stateDir, f));
    }
    mkdirSync(join(inst.stateDir, 'ssh'), { recursive: true, mode: 0o700 });
    if (existsSync(join(gState, 'ssh', 'id_ed25519'))) {
      for (const f of ['id_ed25519', 'id_ed25519.pub']) copyFileSync(join(gState, 'ssh', f), join(inst.stateDir, 'ssh', f));
    }
    const r = await inst.cli(['daemon', 'status']);
    if (r.code !== 0) throw new Error(`daemon did not start: ${r.stderr}`);
  } catch (err) {
    await inst.destroy(); // a fixture that fails half-way leaves nothing behind either
    throw err;
  }
  return inst;
}
