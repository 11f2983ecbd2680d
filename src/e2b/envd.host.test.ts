/**
 * The whole E2B endpoint without a VM: the published `e2b` SDK → the real loopback listener →
 * the real mount (control plane, /files, Connect services) → a real SSH connection to a private
 * sshd on 127.0.0.1 as root; the "guest" is this host, so every path stays under a temp dir.
 * The VM service is a test double at its named seam (create/delete/list/session); e2b.vm.test.ts
 * repeats the cases on a real guest, with pause, resume and fork.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, CommandExitError, FileNotFoundError, NotFoundError, Sandbox, SandboxNotFoundError, type FilesystemEvent } from 'e2b';
import type { Vm } from '../api/vm.js';
import type { GuestConnection } from '../guest/connection.js';
import { silentLogger } from '../host/logger.js';
import { startHttpListener, type HttpListener } from '../http/listener.js';
import { openDb, type Db } from '../store/db.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';
import { createE2bEndpoint, type E2bDeps } from './mount.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping e2b endpoint host tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('e2b SDK against the endpoint over a real sshd', () => {
  let guest: TestSshGuest;
  let dir: string;
  let conn: GuestConnection;
  let db: Db;
  let listener: HttpListener;
  let endpoint: ReturnType<typeof createE2bEndpoint>;
  const vms = new Map<string, string>(); // name → image
  let sbx: Sandbox;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-e2b-' });
    dir = guest.dir;
    conn = await guest.connect({ alias: 'sbx.vm' });
    db = openDb(join(dir, 'banger.db'));
    const vmDouble: E2bDeps['vms'] = {
      create: async (p) => {
        vms.set(p.name!, p.image!);
        return {} as Vm;
      },
      delete: async (name) => {
        vms.delete(name);
        return { name, id: name };
      },
      start: async () => ({}) as Vm,
      session: async () => ({ rec: {} as never, handles: {} as never, session: conn }),
      list: () => [...vms.keys()].map((name) => ({ name, vcpu: 2, memoryMib: 1024, diskSizeBytes: 4 << 30 }) as Vm),
    };
    const snapshots = { snapshotVm: async () => ({}) as never, fork: async () => ({}) as never, list: async () => [], delete: async () => ({}) as never };
    endpoint = createE2bEndpoint({ db, vms: vmDouble, snapshots, apiKeyPath: join(dir, 'e2b-api-key'), defaultImage: 'debian-bookworm', log: silentLogger });
    listener = await startHttpListener({ port: 0, mounts: [endpoint.mount], log: silentLogger });
    endpoint.start();
    process.env.E2B_API_URL = listener.url;
    process.env.E2B_SANDBOX_URL = listener.url;
    process.env.E2B_API_KEY = readFileSync(join(dir, 'e2b-api-key'), 'utf8').trim();
    sbx = await Sandbox.create({ metadata: { suite: 'host' }, envs: { FROM_CREATE: 'yes' } });
  });
  afterAll(async () => {
    endpoint?.stop();
    await listener?.close();
    db?.close();
    await guest?.close();
  });

  it('creates from the default template onto the default image; lists, gets, connects', async () => {
    expect(vms.get(sbx.sandboxId)).toBe('debian-bookworm');
    const items = await Sandbox.list({ query: { metadata: { suite: 'host' } } }).nextItems();
    expect(items.map((s) => [s.sandboxId, s.state, s.metadata])).toEqual([[sbx.sandboxId, 'running', { suite: 'host' }]]);
    expect((await sbx.getInfo()).cpuCount).toBe(2);
    const again = await Sandbox.connect(sbx.sandboxId);
    expect((await again.commands.run('echo same')).stdout).toBe('same\n');
  });

  it('error paths: wrong API key, unknown sandbox, wrong access token', async () => {
    await expect(Sandbox.list({ apiKey: 'e2b_wrong' }).nextItems()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(Sandbox.create({ apiKey: 'e2b_wrong' })).rejects.toBeInstanceOf(AuthenticationError);
    await expect(Sandbox.connect('sbx-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(Sandbox.getInfo('sbx-000000000000')).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await Sandbox.kill('sbx-000000000000')).toBe(false);
    const res = await fetch(`${listener.url}/process.Process/List`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'e2b-sandbox-id': sbx.sandboxId, 'x-access-token': 'wrong' },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });

  it('runs commands with callbacks, envs, cwd; a failing command raises CommandExitError', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = await sbx.commands.run('echo "$FROM_CREATE $MINE"; echo oops >&2; pwd', { envs: { MINE: 'cmd' }, cwd: dir, onStdout: (d) => void out.push(d), onStderr: (d) => void err.push(d) });
    expect(r.stdout).toBe(`yes cmd\n${dir}\n`);
    expect(out.join('')).toBe(r.stdout);
    expect(err.join('')).toBe('oops\n');
    const failed = await sbx.commands.run('echo partial; exit 3').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect((failed as CommandExitError).exitCode).toBe(3);
    expect((failed as CommandExitError).stdout).toBe('partial\n');
  });

  it('stdin: sendStdin then closeStdin', async () => {
    const h = await sbx.commands.run('cat; echo done', { background: true, stdin: true });
    await h.sendStdin('hello ');
    await sbx.commands.sendStdin(h.pid, 'world\n');
    await h.closeStdin();
    expect((await h.wait()).stdout).toBe('hello world\ndone\n');
  });

  it('background: keeps running after disconnect, listed, reconnected, killed', async () => {
    const h = await sbx.commands.run('for i in $(seq 1 600); do echo tick $i; sleep 0.1; done', { background: true });
    await h.disconnect();
    expect((await sbx.commands.list()).map((p) => p.pid)).toContain(h.pid);
    const seen: string[] = [];
    const again = await sbx.commands.connect(h.pid, { onStdout: (d) => void seen.push(d) });
    await waitFor(() => /tick \d+/.test(seen.join('')));
    expect(await again.kill()).toBe(true);
    await expect(again.wait()).rejects.toBeInstanceOf(CommandExitError);
    await waitFor(async () => !(await sbx.commands.list()).some((p) => p.pid === h.pid));
    expect(await sbx.commands.kill(h.pid)).toBe(false);
  });

  it('files: write string, bytes, many; read text, bytes, stream; list, stat, mkdir, rename, remove', async () => {
    const base = join(dir, 'files');
    expect((await sbx.files.write(`${base}/hello.txt`, 'hello file')).path).toBe(`${base}/hello.txt`);
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    await sbx.files.write(`${base}/bin.dat`, bytes.buffer);
    expect(await sbx.files.write(Array.from({ length: 30 }, (_, i) => ({ path: `${base}/many/f${i}.txt`, data: `n${i}` })))).toHaveLength(30);
    expect(await sbx.files.read(`${base}/hello.txt`)).toBe('hello file');
    expect(Array.from(await sbx.files.read(`${base}/bin.dat`, { format: 'bytes' }))).toEqual(Array.from(bytes));
    const chunks: Uint8Array[] = [];
    for await (const c of (await sbx.files.read(`${base}/many/f7.txt`, { format: 'stream' })) as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe('n7');
    await expect(sbx.files.read(`${base}/nope`)).rejects.toBeInstanceOf(FileNotFoundError);
    expect(await sbx.files.makeDir(`${base}/dir/sub`)).toBe(true);
    expect(await sbx.files.makeDir(`${base}/dir/sub`)).toBe(false);
    expect((await sbx.files.list(base)).map((e) => e.name).sort()).toEqual(['bin.dat', 'dir', 'hello.txt', 'many']);
    expect((await sbx.files.list(`${base}/dir`, { depth: 2 })).map((e) => e.path)).toEqual([`${base}/dir/sub`]);
    expect(await sbx.files.getInfo(`${base}/hello.txt`)).toMatchObject({ name: 'hello.txt', type: 'file', size: 10, owner: 'root' });
    expect((await sbx.files.rename(`${base}/hello.txt`, `${base}/dir/moved.txt`)).path).toBe(`${base}/dir/moved.txt`);
    expect(await sbx.files.exists(`${base}/hello.txt`)).toBe(false);
    await sbx.files.remove(`${base}/dir`);
    expect(await sbx.files.exists(`${base}/dir/moved.txt`)).toBe(false);
  });

  it('watchDir reports create, write and remove', async () => {
    const w0 = join(dir, 'watched');
    await sbx.files.makeDir(w0);
    const events: FilesystemEvent[] = [];
    const w = await sbx.files.watchDir(w0, (e) => void events.push(e));
    await sbx.files.write(`${w0}/a.txt`, 'one');
    await waitFor(() => events.some((e) => e.name === 'a.txt' && e.type === 'write'));
    await sbx.files.remove(`${w0}/a.txt`);
    await waitFor(() => events.some((e) => e.name === 'a.txt' && e.type === 'remove'));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['create', 'write', 'remove']));
    await w.stop();
    await expect(sbx.files.watchDir(join(dir, 'nope'), () => {})).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('PTY: input, output, resize', async () => {
    let out = '';
    const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => void (out += Buffer.from(d).toString()) });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    await waitFor(() => /24 80/.test(out));
    await sbx.pty.resize(pty.pid, { cols: 100, rows: 30 });
    await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    await waitFor(() => /30 100/.test(out));
    expect(await pty.kill()).toBe(true);
  });

  it('expires at its timeout: gone for the control plane and envd, its VM deleted', async () => {
    const s2 = await Sandbox.create({ timeoutMs: 60_000 });
    await s2.setTimeout(1_000);
    await waitFor(async () => !(await Sandbox.list().nextItems()).some((s) => s.sandboxId === s2.sandboxId), 10_000);
    expect(vms.has(s2.sandboxId)).toBe(false);
    await expect(Sandbox.getInfo(s2.sandboxId)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(s2.commands.run('true')).rejects.toThrow(/not running|sandbox/i);
  });

  it('kill deletes the VM and forgets the sandbox', async () => {
    await sbx.kill();
    expect(vms.has(sbx.sandboxId)).toBe(false);
    expect(await Sandbox.list().nextItems()).toEqual([]);
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
