import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionPool } from './pool.js';
import type { SshTarget } from './connection.js';
import { connect, type ConnectOptions } from './ssh.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshd, type TestSshGuest } from '../../test/sshd.fixture.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping ConnectionPool tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('ConnectionPool against a real sshd', () => {
  let guest: TestSshGuest;
  let sshd: TestSshd;
  let pool: ConnectionPool;
  let connects = 0;
  let target: SshTarget;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-pool-' });
    sshd = guest.sshd;
    target = { host: sshd.host, port: sshd.port, alias: 'web.vm' };
    pool = new ConnectionPool({
      privateKey: guest.key.privateKey,
      knownHosts: guest.knownHosts,
      // Counting seam around the real connect.
      connect: (opts: ConnectOptions) => {
        connects++;
        return connect(opts);
      },
    });
  });
  afterAll(async () => {
    pool?.closeAll();
    await guest?.close();
  });

  it('shares one connect between concurrent gets and reuses the connection', async () => {
    connects = 0;
    const [a, b, c] = await Promise.all([pool.get('vm1', target), pool.get('vm1', target), pool.get('vm1', target)]);
    expect(connects).toBe(1);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await pool.get('vm1', target)).toBe(a);
    expect(connects).toBe(1);
    expect((await a.run(['echo', 'hi'])).stdout).toBe('hi\n');
  });

  it('keeps one connection per VM', async () => {
    const one = await pool.get('vm1', target);
    const two = await pool.get('vm2', { ...target, alias: 'db.vm' });
    expect(two).not.toBe(one);
    expect(pool.ids().sort()).toEqual(['vm1', 'vm2']);
    pool.drop('vm2');
    expect(two.closed).toBe(true);
    expect(pool.ids()).toEqual(['vm1']);
  });

  it('reconnects after the server drops the connection', async () => {
    const before = await pool.get('vm1', target);
    const closed = new Promise<void>((r) => before.onClose(() => r()));
    await sshd.dropConnections();
    await closed;
    expect(before.closed).toBe(true);
    connects = 0;
    const after = await pool.get('vm1', target);
    expect(after).not.toBe(before);
    expect(connects).toBe(1);
    expect((await after.run(['echo', 'again'])).stdout).toBe('again\n');
  });

  it('replaces the connection when the VM moved (new port after a restart)', async () => {
    const before = await pool.get('vm1', target);
    expect(await pool.get('vm1', { ...target })).toBe(before); // equal target, new object: reused
    // Port 1 refuses: the point is that the old connection to the old port is closed and forgotten.
    await expect(pool.get('vm1', { ...target, port: 1 })).rejects.toMatchObject({ code: 'unavailable' });
    expect(before.closed).toBe(true);
    expect(pool.ids()).toEqual([]);
  });

  it('adopts a connection opened elsewhere (waitForSsh at boot)', async () => {
    const own = await guest.connect(target);
    pool.put('vm3', own);
    connects = 0;
    expect(await pool.get('vm3', target)).toBe(own);
    expect(connects).toBe(0);
  });

  it('a drop during connect closes the late connection and fails its waiters', async () => {
    const pending = pool.get('vm4', target);
    pool.drop('vm4');
    await expect(pending).rejects.toMatchObject({ code: 'unavailable', message: /dropped while it was being opened/ });
    expect(pool.ids()).not.toContain('vm4');
  });

  it('closeAll closes everything', async () => {
    const conns = await Promise.all(['a', 'b'].map((id) => pool.get(id, target)));
    pool.closeAll();
    expect(conns.every((c) => c.closed)).toBe(true);
    expect(pool.ids()).toEqual([]);
  });
});
