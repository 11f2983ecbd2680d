/**
 * The published `e2b` SDK (pinned dev dependency), through its public API only, against a real
 * banger install and real guests: `banger serve --print-env` configures it; one sandbox is shared
 * by most cases (TCG is slow), a second one is forked from it. Error paths: wrong API key, unknown
 * sandbox, expired sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, CommandExitError, FileNotFoundError, NotFoundError, Sandbox, SandboxNotFoundError, type FilesystemEvent } from 'e2b';
import { freshInstall, type Install } from '../../test/install.fixture.js';

const SLOW = { requestTimeoutMs: 900_000 };
let inst: Install;
let sbx: Sandbox;

beforeAll(async () => {
  inst = await freshInstall();
  const r = await inst.cli(['serve', '--print-env'], { check: true });
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^export (E2B_[A-Z_]+)=(.*)$/.exec(line);
    if (!m) throw new Error(`unexpected --print-env line: ${line}`);
    process.env[m[1]!] = m[2];
  }
  sbx = await Sandbox.create({ ...SLOW, metadata: { suite: 'e2b-vm', n: '1' }, envs: { FROM_CREATE: 'yes' }, timeoutMs: 3_600_000 });
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
}, 300_000);

describe('e2b SDK against banger', () => {
  it('print-env points both URLs at the loopback listener with a 0600 key', async () => {
    expect(process.env.E2B_API_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.E2B_SANDBOX_URL).toBe(process.env.E2B_API_URL);
    expect(process.env.E2B_API_KEY).toMatch(/^e2b_[0-9a-f]{40}$/);
    const st = await inst.cli(['serve']);
    expect(st.stdout.trim()).toBe(process.env.E2B_API_URL);
  });

  it('refuses a wrong API key and unknown sandboxes with the SDK\'s own errors', async () => {
    await expect(Sandbox.list({ apiKey: 'e2b_wrong' }).nextItems()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(Sandbox.connect('sbx-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(Sandbox.getInfo('sbx-000000000000')).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await Sandbox.kill('sbx-000000000000')).toBe(false);
  });

  it('lists, gets and connects to the sandbox with its metadata', async () => {
    const items = await Sandbox.list({ query: { metadata: { suite: 'e2b-vm' } } }).nextItems();
    expect(items.map((s) => s.sandboxId)).toContain(sbx.sandboxId);
    expect(items.find((s) => s.sandboxId === sbx.sandboxId)?.metadata).toEqual({ suite: 'e2b-vm', n: '1' });
    expect(await Sandbox.list({ query: { metadata: { suite: 'other' } } }).nextItems()).toEqual([]);
    const info = await sbx.getInfo();
    expect(info.state).toBe('running');
    const again = await Sandbox.connect(sbx.sandboxId);
    expect(again.sandboxId).toBe(sbx.sandboxId);
    expect((await again.commands.run('echo same')).stdout).toBe('same\n');
  });

  it('runs commands: output callbacks, envs, cwd, exit codes', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = await sbx.commands.run('echo "$FROM_CREATE $MINE"; echo oops >&2; pwd', { envs: { MINE: 'cmd' }, cwd: '/tmp', onStdout: (d) => void out.push(d), onStderr: (d) => void err.push(d) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('yes cmd\n/tmp\n');
    expect(out.join('')).toBe(r.stdout);
    expect(err.join('')).toBe('oops\n');
    const failed = await sbx.commands.run('echo partial; exit 3').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect((failed as CommandExitError).exitCode).toBe(3);
    expect((failed as CommandExitError).stdout).toBe('partial\n');
  });

  it('feeds stdin with sendStdin and closeStdin', async () => {
    const h = await sbx.commands.run('cat; echo done', { background: true, stdin: true });
    await h.sendStdin('hello ');
    await sbx.commands.sendStdin(h.pid, 'world\n');
    await h.closeStdin();
    const r = await h.wait();
    expect(r.stdout).toBe('hello world\ndone\n');
  });

  it('keeps a background command running after disconnect, lists, reconnects and kills it', async () => {
    const h = await sbx.commands.run('for i in $(seq 1 600); do echo tick $i; sleep 0.2; done', { background: true, tag: undefined });
    await h.disconnect();
    const listed = await sbx.commands.list();
    expect(listed.map((p) => p.pid)).toContain(h.pid);
    const seen: string[] = [];
    const again = await sbx.commands.connect(h.pid, { onStdout: (d) => void seen.push(d) });
    await new Promise((r) => setTimeout(r, 2000));
    expect(seen.join('')).toMatch(/tick \d+/);
    expect(await again.kill()).toBe(true);
    await expect(again.wait()).rejects.toBeInstanceOf(CommandExitError);
    expect((await sbx.commands.list()).map((p) => p.pid)).not.toContain(h.pid);
    expect(await sbx.commands.kill(h.pid)).toBe(false);
  });

  it('writes and reads files: strings, bytes, many at once, streams', async () => {
    const one = await sbx.files.write('/root/e2b/hello.txt', 'hello file');
    expect(one.path).toBe('/root/e2b/hello.txt');
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    await sbx.files.write('e2b/bin.dat', bytes.buffer); // relative: the user's (root's) home
    const many = await sbx.files.write(Array.from({ length: 20 }, (_, i) => ({ path: `/root/e2b/many/f${i}.txt`, data: `n${i}` })));
    expect(many).toHaveLength(20);
    expect(await sbx.files.read('/root/e2b/hello.txt')).toBe('hello file');
    expect(Array.from(await sbx.files.read('/root/e2b/bin.dat', { format: 'bytes' }))).toEqual(Array.from(bytes));
    const stream = await sbx.files.read('/root/e2b/many/f7.txt', { format: 'stream' });
    const chunks: Uint8Array[] = [];
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe('n7');
    expect((await sbx.commands.run('cat /root/e2b/many/f19.txt')).stdout).toBe('n19');
    await expect(sbx.files.read('/root/e2b/nope')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('lists, stats, makes, renames and removes', async () => {
    expect(await sbx.files.makeDir('/root/e2b/dir/sub')).toBe(true);
    expect(await sbx.files.makeDir('/root/e2b/dir/sub')).toBe(false);
    const top = await sbx.files.list('/root/e2b');
    expect(top.map((e) => e.name).sort()).toEqual(['bin.dat', 'dir', 'hello.txt', 'many']);
    expect(top.find((e) => e.name === 'dir')?.type).toBe('dir');
    const deep = await sbx.files.list('/root/e2b/dir', { depth: 2 });
    expect(deep.map((e) => e.path)).toEqual(['/root/e2b/dir/sub']);
    const info = await sbx.files.getInfo('/root/e2b/hello.txt');
    expect(info).toMatchObject({ name: 'hello.txt', type: 'file', size: 10, owner: 'root', permissions: '-rw-r--r--' });
    expect(info.modifiedTime!.getTime()).toBeGreaterThan(Date.now() - 3_600_000);
    expect(await sbx.files.exists('/root/e2b/hello.txt')).toBe(true);
    const moved = await sbx.files.rename('/root/e2b/hello.txt', '/root/e2b/dir/moved.txt');
    expect(moved.path).toBe('/root/e2b/dir/moved.txt');
    expect(await sbx.files.exists('/root/e2b/hello.txt')).toBe(false);
    await sbx.files.remove('/root/e2b/dir');
    expect(await sbx.files.exists('/root/e2b/dir/moved.txt')).toBe(false);
    await expect(sbx.files.getInfo('/root/e2b/dir')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('watches a directory: create, write, remove', async () => {
    await sbx.files.makeDir('/root/watched');
    const events: FilesystemEvent[] = [];
    const w = await sbx.files.watchDir('/root/watched', (e) => void events.push(e));
    await sbx.files.write('/root/watched/a.txt', 'one');
    await waitFor(() => events.some((e) => e.name === 'a.txt' && e.type === 'write'));
    await sbx.files.remove('/root/watched/a.txt');
    await waitFor(() => events.some((e) => e.name === 'a.txt' && e.type === 'remove'));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['create', 'write', 'remove']));
    await w.stop();
  });

  it('runs a PTY: input, output, resize', async () => {
    let out = '';
    const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => void (out += Buffer.from(d).toString()) });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size; tty\n'));
    await waitFor(() => /24 80/.test(out) && /\/dev\/pts\//.test(out));
    await sbx.pty.resize(pty.pid, { cols: 100, rows: 30 });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    await waitFor(() => /30 100/.test(out));
    expect(await pty.kill()).toBe(true);
  });

  it('pauses and resumes: files and a running process survive', async () => {
    await sbx.files.write('/root/kept.txt', 'still here');
    await sbx.commands.run('setsid sleep 100000 >/dev/null 2>&1 < /dev/null &');
    expect(await sbx.pause(SLOW)).toBe(true);
    const paused = (await Sandbox.list().nextItems()).find((s) => s.sandboxId === sbx.sandboxId);
    expect(paused?.state).toBe('paused');
    await sbx.connect(SLOW);
    expect((await sbx.getInfo()).state).toBe('running');
    expect(await sbx.files.read('/root/kept.txt')).toBe('still here');
    expect((await sbx.commands.run('pgrep -x sleep')).stdout.trim()).toMatch(/^\d+$/);
  }, 900_000);

  it('forks the sandbox', async () => {
    const [child] = await sbx.fork({ ...SLOW, count: 1 });
    expect(child).toBeInstanceOf(Sandbox);
    const c = child as Sandbox;
    expect(c.sandboxId).not.toBe(sbx.sandboxId);
    expect(await c.files.read('/root/kept.txt')).toBe('still here');
    expect(await c.kill()).toBe(true);
    await expect(Sandbox.getInfo(c.sandboxId)).rejects.toBeInstanceOf(SandboxNotFoundError);
  }, 900_000);

  it('expires a sandbox at its timeout: it is gone for the control plane and envd', async () => {
    await sbx.setTimeout(2_000);
    await waitFor(async () => !(await Sandbox.list().nextItems()).some((s) => s.sandboxId === sbx.sandboxId), 120_000);
    await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sbx.commands.run('true')).rejects.toThrow();
    const vms = JSON.parse((await inst.cli(['vm', 'list', '--json'], { check: true })).stdout) as Array<{ name: string }>;
    expect(vms.map((v) => v.name)).not.toContain(sbx.sandboxId);
  }, 300_000);
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
