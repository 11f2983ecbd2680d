import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { ensureKeyPair, type KeyPair } from './keys.js';
import { KnownHostsStore } from './knownhostsstore.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshd, type TestSshGuest } from '../../test/sshd.fixture.js';
import { waitForSsh } from './wait.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping waitForSsh tests: ${skipReason}`);

/** A port nothing listens on: bind, note, close. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A port that accepts and says nothing (like a forwarded port before the guest listens). */
async function muteServer(): Promise<{ mute: Server; port: number }> {
  const mute: Server = createServer(() => {});
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  return { mute, port: (mute.address() as { port: number }).port };
}

describe('waitForSsh', () => {
  let dir: string;
  let key: KeyPair;
  let knownHosts: KnownHostsStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-wait-'));
    key = await ensureKeyPair({ sshKey: join(dir, 'id_ed25519') });
    knownHosts = new KnownHostsStore(join(dir, 'known_hosts'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('times out on a closed port with a clear unavailable error', async () => {
    const port = await closedPort();
    const attempts: number[] = [];
    const started = Date.now();
    const err = (await waitForSsh({
      host: '127.0.0.1',
      port,
      alias: 'slow.vm',
      privateKey: key.privateKey,
      knownHosts,
      timeoutMs: 1200,
      onAttempt: (n) => attempts.push(n),
    }).catch((e: unknown) => e)) as BangerError;
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(new RegExp(`SSH in VM "slow" \\(127\\.0\\.0\\.1:${port}\\) did not answer within 1\\.\\d+s after \\d+ attempts \\(last error: .*ECONNREFUSED`));
    expect(elapsed).toBeGreaterThanOrEqual(1200);
    expect(elapsed).toBeLessThan(2500);
    // ~250 ms apart: a handful of attempts, not a busy loop.
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.length).toBeLessThanOrEqual(7);
  });

  it('bounds each attempt: a port that accepts but never speaks SSH does not eat the whole budget in one try', async () => {
    const { mute, port } = await muteServer();
    try {
      let attempts = 0;
      const err = (await waitForSsh({
        host: '127.0.0.1',
        port,
        alias: 'mute.vm',
        privateKey: key.privateKey,
        knownHosts,
        timeoutMs: 1500,
        attemptTimeoutMs: 400,
        onAttempt: () => attempts++,
      }).catch((e: unknown) => e)) as BangerError;
      expect(err.code).toBe('unavailable');
      expect(err.message).toMatch(/handshake/i);
      expect(attempts).toBeGreaterThanOrEqual(2);
    } finally {
      mute.close();
    }
  });

  it('ends an attempt that gets no SSH banner early and tries again (stage banner)', async () => {
    const { mute, port } = await muteServer();
    try {
      const stages: unknown[] = [];
      const err = (await waitForSsh({
        host: '127.0.0.1',
        port,
        alias: 'mute.vm',
        privateKey: key.privateKey,
        knownHosts,
        timeoutMs: 2000,
        bannerTimeoutMs: 300,
        onAttempt: (_n, e) => stages.push(e.details?.stage),
      }).catch((e: unknown) => e)) as BangerError;
      expect(err.code).toBe('unavailable');
      // 300 ms banner bounds with every fourth attempt unbounded (to the end of the budget here).
      expect(stages.slice(0, 3)).toEqual(['banner', 'banner', 'banner']);
      expect(err.message).toMatch(/after [4-9] attempts/);
    } finally {
      mute.close();
    }
  });

  it('stops at once when cancelled', async () => {
    const port = await closedPort();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    await expect(
      waitForSsh({ host: '127.0.0.1', port, alias: 'gone.vm', privateKey: key.privateKey, knownHosts, timeoutMs: 30_000, signal: ac.signal }),
    ).rejects.toMatchObject({ code: 'unavailable', message: /was cancelled/ });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  describe.skipIf(skipReason !== null)('against a real sshd', () => {
    let guest: TestSshGuest;
    let sshd: TestSshd;
    beforeAll(async () => {
      guest = await startTestSshGuest({ dir, key }); // the outer dir and key: close() leaves the dir to the outer afterAll
      sshd = guest.sshd;
    });
    afterAll(async () => {
      await guest?.close();
    });

    it('connects once sshd comes up', async () => {
      await sshd.stop();
      setTimeout(() => void sshd.restart(), 700);
      const started = Date.now();
      const conn = await waitForSsh({ host: sshd.host, port: sshd.port, alias: 'late.vm', privateKey: key.privateKey, knownHosts, timeoutMs: 15_000 });
      try {
        expect(Date.now() - started).toBeGreaterThanOrEqual(600);
        expect((await conn.run(['echo', 'up'])).stdout).toBe('up\n');
      } finally {
        conn.close();
      }
    });

    it('gets past a first connection the guest never saw (a restored VM) in well under the attempt bound', async () => {
      // A forwarded port whose first connection goes nowhere (its SYN was lost while the guest was
      // paused); later ones reach sshd.
      let seen = 0;
      const held: Socket[] = [];
      const fwd = createServer((c) => {
        if (seen++ === 0) return void held.push(c);
        const up = connect(sshd.port, sshd.host);
        c.pipe(up).pipe(c);
        up.on('error', () => c.destroy());
        c.on('error', () => up.destroy());
      });
      await new Promise<void>((r) => fwd.listen(0, '127.0.0.1', r));
      try {
        const started = Date.now();
        const conn = await waitForSsh({ host: '127.0.0.1', port: (fwd.address() as { port: number }).port, alias: 'late.vm', privateKey: key.privateKey, knownHosts, timeoutMs: 30_000 });
        conn.close();
        expect(seen).toBe(2);
        expect(Date.now() - started).toBeLessThan(6_000); // the attempt bound alone would be 10 s
      } finally {
        for (const c of held) c.destroy();
        fwd.close();
      }
    });

    it('gives up early when the guest keeps rejecting the key', async () => {
      const stranger = await ensureKeyPair({ sshKey: join(dir, 'stranger', 'id_ed25519') });
      const started = Date.now();
      const err = (await waitForSsh({
        host: sshd.host,
        port: sshd.port,
        alias: 'late.vm',
        privateKey: stranger.privateKey,
        knownHosts,
        timeoutMs: 30_000,
      }).catch((e: unknown) => e)) as BangerError;
      expect(err.details?.stage).toBe('auth');
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('fails at once on a changed host key', async () => {
      await knownHosts.forget('late.vm');
      await knownHosts.verify('late.vm', 'ssh-ed25519', 'AAAAC3NzaC1lZDI1NTE5AAAAIIzUs9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY');
      await expect(
        waitForSsh({ host: sshd.host, port: sshd.port, alias: 'late.vm', privateKey: key.privateKey, knownHosts, timeoutMs: 30_000 }),
      ).rejects.toMatchObject({ code: 'conflict', message: /VM "late"/ });
    });
  });
});
