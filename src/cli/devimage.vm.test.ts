/**
 * Issue 17 on a real guest of the default (rich) image: Docker in the VM, python/node/mise, the
 * repo's mise pins bootstrapped by `vm run`, `vm exec` inside `mise exec`, and the rest of `vm run`
 * / `vm exec` / `vm prune` / `vm set`. One VM (`dev`, made by `vm run ./repo -d`) serves the file;
 * the refusals and --dry-run create nothing, which each test checks.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { freshInstall, REPO, type Install } from '../../test/install.fixture.js';
import { commitAll, makeRepo, writeFiles } from '../../test/gitrepo.fixture.js';

let inst: Install;
let dir: string;
let repo: string;
let created: { code: number; stdout: string; stderr: string };
const VM = 'dev';
const MISE_TOML = '[env]\nGREETING = "hello from mise"\n\n[tasks.hello]\nrun = "echo task-ran-$GREETING"\n';

const exec = (...argv: string[]) => inst.cli(['vm', 'exec', VM, '--', ...argv]);
const vmNames = async () => (JSON.parse((await inst.cli(['vm', 'list', '--json'])).stdout) as Array<{ name: string }>).map((v) => v.name).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-devimg-'));
  repo = await makeRepo(join(dir, 'repo'), { 'README.md': '# app\n', '.mise.toml': MISE_TOML });
  inst = await freshInstall('default');
  // -d: create + prepare + bootstrap, no shell. Egress off as every test guest (the pins need no download).
  created = await inst.cli(['vm', 'run', repo, '-d', '--no-egress', '--name', VM]);
  if (created.code !== 0) throw new Error(`vm run -d failed: ${created.stderr}`);
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the default image', () => {
  it('has python3 with venv and pip, node, mise and the usual tools', async () => {
    const r = await exec('sh', '-c', 'python3 -m venv /tmp/v && /tmp/v/bin/pip --version && node -e "console.log(6*7)" && mise --version && for t in vi rsync unzip zstd xz ping dig tmux less; do command -v $t >/dev/null || echo "no $t"; done');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pip \d+/m);
    expect(r.stdout).toMatch(/^42$/m);
    expect(r.stdout).toMatch(/^\d{4}\.\d+\.\d+ linux-x64/m);
    expect(r.stdout).not.toMatch(/^no /m);
  }, 300_000);

  it('runs Docker: overlay2 on cgroup v2, the guest-side check passes, an imported image runs with a published port', async () => {
    const info = await exec('docker', 'info', '--format', '{{.Driver}} {{.CgroupVersion}}');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout.trim()).toBe('overlay2 2');
    const check = await exec('banger-docker-check');
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/^ok: overlayfs/m);
    expect(check.stdout).toMatch(/^ok: module br_netfilter$/m);

    // A busybox-static root file system, made here, `docker import`ed from stdin.
    const root = join(dir, 'bb');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'www'));
    await run(['cp', '/bin/busybox', join(root, 'bin', 'busybox')]);
    await writeFile(join(root, 'www', 'index.html'), 'served from a container\n');
    await run(['tar', '-C', root, '-cf', join(dir, 'bb.tar'), '.']);
    const imp = await inst.cli(['vm', 'exec', VM, '--', 'docker', 'import', '-', 'bb:test'], { input: await readFile(join(dir, 'bb.tar')) });
    expect(imp.code, imp.stderr).toBe(0);

    const t0 = Date.now();
    const once = await exec('docker', 'run', '--rm', 'bb:test', '/bin/busybox', 'echo', 'hi from docker');
    const runMs = Date.now() - t0;
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout.trim()).toBe('hi from docker');
    console.log(`docker run --rm in the guest (through vm exec): ${runMs} ms`);

    const up = await exec('docker', 'run', '-d', '--rm', '--name', 'web', '-p', '18080:8080', 'bb:test', '/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/www');
    expect(up.code, up.stderr).toBe(0);
    const got = await exec('sh', '-c', 'for i in $(seq 50); do curl -fsS http://127.0.0.1:18080/index.html && exit 0; sleep 0.2; done; exit 1');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe('served from a container\n');
    expect((await exec('docker', 'rm', '-f', 'web')).code).toBe(0);
  }, 600_000);
});

describe('bootstrap from the repo pins', () => {
  it('vm run -d prepared and bootstrapped (mise trust + install in the workspace) and left the VM running', async () => {
    expect(created.stderr).toContain(`${VM}: bootstrap: mise trust + mise install in /root/repo (.mise.toml)`);
    expect(created.stdout).toMatch(new RegExp(`^${VM}: running`, 'm'));
    const trusted = await exec('mise', 'trust', '--show');
    expect(trusted.stdout).toMatch(/^(~|\/root)\/repo: trusted$/m);
  });

  it('vm exec in the workspace runs inside mise exec: [env] applies, [tasks] run; -w elsewhere is the plain command', async () => {
    const env = await exec('sh', '-c', 'echo "$GREETING"');
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toBe('hello from mise\n');
    const task = await exec('mise', 'run', 'hello');
    expect(task.code, task.stderr).toBe(0);
    expect(task.stdout).toContain('task-ran-hello from mise');
    const plain = await inst.cli(['vm', 'exec', VM, '-w', '/', '--', 'sh', '-c', 'echo "[$GREETING]"']);
    expect(plain.stdout).toBe('[]\n');
  });

  it('vm run ./repo --no-bootstrap -- cmd: says it skipped the install; the command still gets [env]', async () => {
    const r = await inst.cli(['vm', 'run', repo, '--rm', '--no-egress', '--no-bootstrap', '--', 'sh', '-c', 'echo "$GREETING"']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello from mise\n');
    expect(r.stderr).toMatch(/bootstrap: skipped: --no-bootstrap/);
    expect(r.stderr).not.toContain('mise trust + mise install');
  }, 600_000);

  it('refuses a repo pinning tools when the VM has no egress, before any VM is created', async () => {
    const pinned = await makeRepo(join(dir, 'pinned'), { '.tool-versions': 'nodejs 20.11.0\n' });
    const before = await vmNames();
    const r = await inst.cli(['vm', 'run', pinned, '--no-egress', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pins tools in \.tool-versions.*--no-bootstrap/);
    expect(await vmNames()).toEqual(before);
  });
});

describe('the rest of vm run, vm exec, vm prune, vm set', () => {
  it('--dry-run prints the plan (image, network, files, bootstrap) and creates nothing', async () => {
    const before = await vmNames();
    const r = await inst.cli(['vm', 'run', repo, '--dry-run', '--no-egress', '--memory', '1024', '--', 'make', 'test']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^image: debian-bookworm \(default\)$/m);
    expect(r.stdout).toMatch(/^vcpu: default, memory: 1024 MiB, disk: default$/m);
    expect(r.stdout).toMatch(/egress: off/);
    expect(r.stdout).toMatch(/^then: run \["make","test"\]$/m);
    expect(r.stdout).toMatch(/^ {2}0644 .* \.mise\.toml$/m);
    expect(r.stdout).toMatch(/^2 files, /m);
    expect(r.stdout).toMatch(/^bootstrap: mise trust \+ mise install in \/root\/repo \(\.mise\.toml\)$/m);
    expect(await vmNames()).toEqual(before);
  });

  it('-d refuses --rm and a command, before anything is created', async () => {
    const before = await vmNames();
    const a = await inst.cli(['vm', 'run', '-d', '--rm']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/-d\/--detach keeps the VM running, --rm deletes it/);
    const b = await inst.cli(['vm', 'run', repo, '-d', '--', 'make']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/-d\/--detach runs nothing/);
    expect(await vmNames()).toEqual(before);
  });

  it('vm exec warns when the host HEAD moved since prepare; --auto-prepare re-syncs first', async () => {
    await writeFiles(repo, { 'NEW.md': 'new\n' });
    const head = await commitAll(repo, 'moved');
    const warned = await exec('git', 'rev-parse', 'HEAD');
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(new RegExp(`warning: the host repo .* is at ${head.slice(0, 12)} but ${VM}'s workspace was prepared at .*--auto-prepare`));
    expect(warned.stdout.trim()).not.toBe(head);
    const synced = await inst.cli(['vm', 'exec', VM, '--auto-prepare', '--', 'git', 'rev-parse', 'HEAD']);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout.trim()).toBe(head);
    expect(synced.stderr).not.toMatch(/warning/);
    const quiet = await exec('cat', 'NEW.md');
    expect(quiet.stdout).toBe('new\n');
    expect(quiet.stderr).not.toMatch(/warning/);
    // A guest edit is never discarded by a re-sync.
    expect((await exec('sh', '-c', 'echo mine > guest.txt')).code).toBe(0);
    await writeFiles(repo, { 'NEWER.md': 'newer\n' });
    await commitAll(repo, 'moved again');
    const refused = await inst.cli(['vm', 'exec', VM, '--auto-prepare', '--', 'true']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/1 changed file since it was prepared; re-syncing would discard them: export them first/);
    expect((await exec('cat', 'guest.txt')).stdout).toBe('mine\n');
  }, 300_000);

  it('vm set takes several VMs; vm prune asks on a terminal (no keeps them, yes deletes them) and refuses without one', async () => {
    for (const n of ['old1', 'old2']) expect((await inst.cli(['vm', 'create', '--name', n, '--no-start'])).code).toBe(0);
    const set = await inst.cli(['vm', 'set', 'old1', 'old2', '--memory', '768']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^old1: vcpu \d+, memory 768 MiB/m);
    expect(set.stdout).toMatch(/^old2: vcpu \d+, memory 768 MiB/m);

    const noTty = await inst.cli(['vm', 'prune']);
    expect(noTty.code).toBe(2);
    expect(noTty.stdout).toContain('would delete: old1, old2');
    expect(noTty.stderr).toMatch(/not a terminal.*vm prune -f/);

    // A pseudo-terminal (util-linux script) answers the question.
    const onTty = (answer: string) =>
      run(['script', '-q', '-e', '-c', `${process.execPath} ${join(REPO, 'bin', 'banger')} vm prune`, '/dev/null'], { env: inst.env, input: answer, check: false });
    const no = await onTty('n\n');
    expect(no.code, no.stdout).toBe(0);
    expect(no.stdout).toMatch(/delete 2 VMs\? \[y\/N\]/);
    expect(no.stdout).toContain('nothing deleted');
    expect(await vmNames()).toEqual(expect.arrayContaining(['old1', 'old2']));
    const yes = await onTty('y\n');
    expect(yes.code, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/old1: deleted/);
    expect(await vmNames()).toEqual([VM]);
  }, 300_000);
});
