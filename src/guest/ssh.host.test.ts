import { createHash, randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { run as hostRun, which } from '../host/exec.js';
import { ensureKeyPair, type KeyPair } from './keys.js';
import type { KnownHostsStore } from './knownhostsstore.js';
import { quote, shellCommand } from './quote.js';
import { exitCodeOf } from './exitstatus.js';
import type { GuestConnection } from './connection.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshd, type TestSshGuest } from '../../test/sshd.fixture.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping ssh tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('guest ssh against a real sshd', () => {
  let guest: TestSshGuest;
  let dir: string;
  let key: KeyPair;
  let sshd: TestSshd;
  let knownHosts: KnownHostsStore;
  let conn: GuestConnection;
  const alias = 'web.vm';
  const open = (a = alias) => guest.connect({ alias: a });

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-ssh-' });
    ({ dir, key, sshd, knownHosts } = guest);
    conn = await open();
  });
  afterAll(async () => {
    await guest?.close();
  });

  it('records the host key on first connect', async () => {
    expect(await knownHosts.lookup(alias)).toEqual([{ hosts: [alias], keyType: 'ssh-ed25519', key: sshd.hostKey }]);
  });

  it.each([0, 1, 3, 42, 255])('passes exit code %i through verbatim', async (code) => {
    const r = await conn.run(['sh', '-c', `exit ${code}`]);
    expect(r.code).toBe(code);
    expect(r.signal).toBeUndefined();
  });

  it.each([
    ['TERM', 143],
    ['KILL', 137],
    ['INT', 130],
  ])('a command that dies of SIG%s exits %i, as a shell reports it', async (sig, code) => {
    const r = await conn.run(['sh', '-c', `kill -${sig} $$`]);
    expect(r).toMatchObject({ code: null, signal: `SIG${sig}` });
    expect(exitCodeOf(r)).toBe(code);
  });

  it('keeps stdout and stderr apart', async () => {
    const r = await conn.run(['sh', '-c', 'echo out; echo err >&2; echo out2']);
    expect(r).toMatchObject({ code: 0, stdout: 'out\nout2\n', stderr: 'err\n' });
  });

  it('passes 1 MB of stdin through (sha256 comes back)', async () => {
    const data = randomBytes(1024 * 1024);
    const want = createHash('sha256').update(data).digest('hex');
    const fromBuffer = await conn.run(['sha256sum'], { stdin: data });
    expect(fromBuffer.stdout.split(' ')[0]).toBe(want);
    const chunks = Array.from({ length: 16 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    const fromStream = await conn.run(['sha256sum'], { stdin: Readable.from(chunks) });
    expect(fromStream.stdout.split(' ')[0]).toBe(want);
  });

  it('streams large output intact with backpressure', async () => {
    const r = await conn.run(['head', '-c', String(8 * 1024 * 1024), '/dev/zero']);
    expect(r.stdoutBytes.length).toBe(8 * 1024 * 1024);
  });

  it('echoes odd argv back exactly', async () => {
    const odd = ['a b', "it's", '"dq"', 'new\nline', '$(touch /tmp/banger-pwned)', '`id`', '$HOME', '*', '', 'tab\there', 'ünï', '-n', ';|&<>'];
    const r = await conn.run(['printf', '%s\\0', ...odd]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(odd);
    const t = await conn.run(['test', '-e', '/tmp/banger-pwned']);
    expect(t.code).toBe(1);
  });

  it('exports env values safely, and rejects bad names', async () => {
    const r = await conn.run(['sh', '-c', 'printf "%s|%s" "$A" "$B_2"'], { env: { A: "x y 'z' $(no)", B_2: '' } });
    expect(r.stdout).toBe("x y 'z' $(no)|");
    expect(() => conn.exec('true', { env: { 'BAD-NAME': 'x' } })).toThrow(BangerError);
  });

  it('runs 20 concurrent commands over one connection (queued past the channel cap)', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.run(['sh', '-c', `sleep 0.2; echo ${i}; exit ${i % 7}`])));
    results.forEach((r, i) => expect(r).toMatchObject({ stdout: `${i}\n`, code: i % 7 }));
    // 8 channels at a time: three waves of 0.2 s, not one (unbounded) and not twenty (serial).
    expect(Date.now() - started).toBeLessThan(4000);
    expect(conn.closed).toBe(false);
  });

  it('copes with a channel cap above sshd MaxSessions (10): refused opens wait for a free slot', async () => {
    const greedy = await guest.connect({ alias, maxChannels: 14 });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => greedy.run(['sh', '-c', `sleep 0.3; echo ${i}`])));
      results.forEach((r, i) => expect(r).toMatchObject({ code: 0, stdout: `${i}\n` }));
    } finally {
      greedy.close();
    }
  });

  it('streams through callbacks and the handle, with stdin left open on request', async () => {
    const seen: string[] = [];
    const h = conn.exec(shellCommand(['sh', '-c', 'while read l; do echo "got $l"; done; echo bye >&2']), {
      stdin: 'pipe',
      onStdout: (b) => seen.push(b.toString()),
    });
    let err = '';
    h.stderr.on('data', (b: Buffer) => (err += b));
    h.stdin.write('one\n');
    h.stdin.end('two\n');
    expect(await h.exit).toEqual({ code: 0 });
    expect(seen.join('')).toBe('got one\ngot two\n');
    expect(err).toBe('bye\n');
  });

  it('kills a command and everything it started', async () => {
    // Unique sleep lengths mark the two processes (a background child and the foreground one).
    const [a, b] = [`31.${process.pid}1`, `32.${process.pid}2`];
    const h = conn.exec(shellCommand(['sh', '-c', `sleep ${a} & sleep ${b}`]));
    await new Promise((r) => setTimeout(r, 300));
    const running = await conn.run(['ps', '-eo', 'args']);
    expect(running.stdout).toContain(`sleep ${a}`);
    const started = Date.now();
    h.kill('TERM');
    const status = await h.exit;
    expect(status).toEqual({ code: null, signal: 'SIGTERM' });
    expect(Date.now() - started).toBeLessThan(1500); // delivered, not the 2 s abandon fallback
    const left = await conn.run(['ps', '-eo', 'args']);
    expect(left.stdout).not.toContain(`sleep ${a}`);
    expect(left.stdout).not.toContain(`sleep ${b}`);
    expect(() => h.kill('NOPE')).toThrow(/cannot send signal NOPE/);
  });

  it('kills on timeout and rejects, check=true rejects non-zero', async () => {
    await expect(conn.run(['sleep', '30'], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'unavailable', message: /did not finish within 300 ms/ });
    await expect(conn.run(['sh', '-c', 'echo boom >&2; exit 4'], { check: true })).rejects.toMatchObject({
      code: 'internal',
      message: /failed with exit 4 in VM "web": boom/,
    });
  });

  it('bounds collected output', async () => {
    await expect(conn.run(['head', '-c', '300000', '/dev/zero'], { maxOutputBytes: 100_000 })).rejects.toMatchObject({ code: 'internal', message: /more than 100000 bytes/ });
  });

  it('allocates a pty when asked', async () => {
    let out = '';
    const h = conn.exec(shellCommand(['sh', '-c', 'test -t 0 && stty size && echo $TERM']), { pty: { rows: 33, cols: 101 }, onStdout: (b) => (out += b) });
    expect((await h.exit).code).toBe(0);
    expect(out.replace(/\r/g, '')).toBe('33 101\nxterm-256color\n');
  });

  it('opens an interactive login shell on a pty', async () => {
    let out = '';
    const h = conn.shell({ pty: { rows: 24, cols: 80 }, stdin: 'pipe', onStdout: (b) => (out += b) });
    h.resize(40, 120);
    h.stdin.write('stty size; echo $((6*7)); exit 5\n');
    expect(await h.exit).toEqual({ code: 5 });
    expect(out).toContain('40 120');
    expect(out).toContain('42');
  });

  it('works as an `ssh` CLI identity with the same known_hosts (HostKeyAlias)', async (ctx) => {
    if (!(await which('ssh'))) ctx.skip();
    const r = await hostRun(
      [
        'ssh', '-F', '/dev/null', '-i', key.path, '-p', String(sshd.port),
        '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts.path}`,
        '-o', `HostKeyAlias=${alias}`, 'root@127.0.0.1', 'echo', 'cli-ok',
      ],
      { check: false, timeoutMs: 20_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cli-ok\n');
  });

  it('measures exec latency of `true` on one open connection (vs bare ssh2)', async () => {
    const raw = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      raw.on('ready', resolve).on('error', reject);
      raw.connect({ host: sshd.host, port: sshd.port, username: 'root', privateKey: key.privateKey });
    });
    raw.setNoDelay(true); // as connect() does; without it each exec waits ~40 ms on a delayed ACK
    const rawExec = () =>
      new Promise<void>((resolve, reject) =>
        raw.exec('true', (err, ch) => {
          if (err) return reject(err);
          ch.on('close', () => resolve()).resume();
          ch.stderr.resume();
        }),
      );
    const ours: number[] = [];
    const bare: number[] = [];
    const time = async (fn: () => Promise<unknown>, into: number[]) => {
      const t = process.hrtime.bigint();
      await fn();
      into.push(Number(process.hrtime.bigint() - t) / 1e6);
    };
    for (let i = 0; i < 30; i++) {
      await time(() => conn.run(['true']), ours);
      await time(rawExec, bare);
    }
    raw.end();
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(
      `exec \`true\` on an open connection to local sshd, n=30 interleaved: GuestConnection.run median ${median(ours).toFixed(1)} ms, ` +
        `bare ssh2 exec median ${median(bare).toFixed(1)} ms (ratio ${(median(ours) / median(bare)).toFixed(2)}); load ${loadavg()[0].toFixed(2)} on ${cpus().length} cores`,
    );
    expect(median(ours)).toBeGreaterThan(0);
  });

  it('fails queued and running commands when the connection drops, and reports close', async () => {
    const c = await open();
    let closedWith: Error | undefined | 'not yet' = 'not yet';
    c.onClose((e) => (closedWith = e));
    const running = c.run(['sleep', '30']);
    const more = Array.from({ length: 10 }, () => c.run(['sleep', '30']));
    // An inline script (the identity step sends kilobytes of perl) is named by its first line only.
    const script = c.run(['sh', '-c', `sleep 30\n${'# filler\n'.repeat(500)}`]);
    await new Promise((r) => setTimeout(r, 300));
    await sshd.dropConnections();
    for (const p of [running, ...more]) await expect(p).rejects.toMatchObject({ code: 'unavailable', message: /lost the SSH connection to VM "web"/ });
    const lost = (await script.catch((e: unknown) => e)) as BangerError;
    expect(lost.message).toMatch(/lost the SSH connection to VM "web" while running sh -c 'sleep 30…/);
    expect(lost.message).not.toContain('filler');
    expect(c.closed).toBe(true);
    expect(closedWith).not.toBe('not yet');
    expect(() => c.exec('true')).not.toThrow();
    await expect(c.run(['true'])).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('trusts on first use, then refuses a changed host key naming the VM; forget() lets it in again', async () => {
    conn.close();
    await sshd.restart({ newHostKey: true });
    const err = (await open().catch((e: unknown) => e)) as BangerError;
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/host key of VM "web" has changed/);
    expect(err.message).toContain(quote(`ssh-keygen -R web.vm -f ${knownHosts.path}`).replace(/^'|'$/g, ''));
    // Another VM on the same address is unaffected: entries are per alias, not per host:port.
    (await open('other.vm')).close();

    expect(await knownHosts.forget(alias)).toBe(true);
    conn = await open();
    expect((await conn.run(['echo', 'back'])).stdout).toBe('back\n');
    expect((await knownHosts.lookup(alias))[0].key).toBe(sshd.hostKey);
  });

  it('rejects an unknown key as an auth error', async () => {
    const other = await ensureKeyPair({ sshKey: join(dir, 'other', 'id_ed25519') });
    const err = (await guest.connect({ alias, privateKey: other.privateKey }).catch((e: unknown) => e)) as BangerError;
    expect(err.code).toBe('unavailable');
    expect(err.details?.stage).toBe('auth');
    expect(err.message).toMatch(/rejected banger's SSH key/);
  });
});
