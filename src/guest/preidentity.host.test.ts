/**
 * Pre-identity host keys (knownhosts.ts): the key a restored guest had before banger gave it its
 * own is remembered, recognised if the guest comes back with it, accepted only by the
 * re-identifying view; a foreign key stays a plain conflict everywhere. Pure cases on the file,
 * then the same through a real sshd and OpenSSH's own reading of the file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { createGuestAccess } from './access.js';
import { run } from '../host/exec.js';
import { resolvePaths } from '../store/paths.js';
import { generateEd25519, type KeyPair } from './keys.js';
import { checkHostKey, parseKnownHosts, rekeyAlias } from './knownhosts.js';
import { isPreIdentityConflict, KnownHostsStore } from './knownhostsstore.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshd, type TestSshGuest } from '../../test/sshd.fixture.js';

const T = 'AAAAC3NzaC1lZDI1NTE5AAAAIIzUs9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY'; // the template's
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIHZ1c9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY'; // the VM's own
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIHZ1c9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BZ'; // its own, again
const F = 'AAAAC3NzaC1lZDI1NTE5AAAAIFZ1c9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY'; // anyone else's
const ED = 'ssh-ed25519';

const caught = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected a rejection');
  },
  (e: unknown) => e as BangerError,
);

describe('pre-identity keys in the file', () => {
  it('rekey keeps the old keys as pre-identity lines (once each); checkHostKey tells them from foreign keys', () => {
    let lines = parseKnownHosts(`web.vm ${ED} ${T}\ndb.vm ${ED} ${F}\n`);
    lines = rekeyAlias(lines, 'web.vm', ED, K1);
    expect(lines.map((l) => l.raw)).toEqual([`db.vm ${ED} ${F}`, `#banger-pre-identity web.vm ${ED} ${T}`, `web.vm ${ED} ${K1}`]);
    expect(checkHostKey(lines, 'web.vm', ED, K1)).toEqual({ status: 'match' });
    expect(checkHostKey(lines, 'web.vm', ED, T).status).toBe('preIdentity');
    expect(checkHostKey(lines, 'web.vm', ED, F).status).toBe('mismatch');
    // Pre-identity keys are per alias: web's template key means nothing for db.
    expect(checkHostKey(lines, 'db.vm', ED, T).status).toBe('mismatch');
    // Re-identified again (the recovery): both earlier keys are pre-identity, the template's not twice.
    lines = rekeyAlias(lines, 'web.vm', ED, K2);
    expect(lines.filter((l) => l.kind === 'preIdentity').map((l) => l.raw)).toEqual([`#banger-pre-identity web.vm ${ED} ${T}`, `#banger-pre-identity web.vm ${ED} ${K1}`]);
    expect(lines.filter((l) => l.kind === 'entry').map((l) => l.raw)).toEqual([`db.vm ${ED} ${F}`, `web.vm ${ED} ${K2}`]);
  });
});

describe('KnownHostsStore with pre-identity keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-preid-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses the pre-identity key with a conflict saying what happened, accepts it only through the re-identifying view, never a foreign key', async () => {
    const path = join(dir, 'known_hosts');
    const store = new KnownHostsStore(path);
    expect(await store.verify('web.vm', ED, T)).toBe('recorded'); // first connect after the restore
    await store.rekey('web.vm', ED, K1); // the identity step gave it K1
    expect(await store.verify('web.vm', ED, K1)).toBe('known');
    expect(await store.lookup('web.vm')).toEqual([{ hosts: ['web.vm'], keyType: ED, key: K1 }]);
    expect(await store.preIdentity('web.vm')).toEqual([{ alias: 'web.vm', keyType: ED, key: T }]);

    const pre = await caught(store.verify('web.vm', ED, T));
    expect(isPreIdentityConflict(pre)).toBe(true);
    expect(pre.code).toBe('conflict');
    expect(pre.message).toContain('came up without the identity banger gave it');
    expect(pre.message).toContain('banger vm restart web');
    expect(await store.acceptingPreIdentity().verify('web.vm', ED, T)).toBe('pre-identity');

    for (const s of [store, store.acceptingPreIdentity()]) {
      const foreign = await caught(s.verify('web.vm', ED, F));
      expect(foreign.code).toBe('conflict');
      expect(isPreIdentityConflict(foreign)).toBe(false);
      expect(foreign.message).toMatch(/host key of VM "web" has changed/);
    }
    // Nothing was recorded by those refusals or by the accepted pre-identity key.
    expect(await store.lookup('web.vm')).toEqual([{ hosts: ['web.vm'], keyType: ED, key: K1 }]);

    // vm delete forgets the pre-identity keys too: a new VM of the same name starts clean.
    expect(await store.forget('web.vm')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('');
  });

  it('serialises a view and its store on one file (a rekey never loses a concurrent first connect)', async () => {
    const path = join(dir, 'race');
    const store = new KnownHostsStore(path);
    await store.verify('web.vm', ED, T);
    await Promise.all([
      store.rekey('web.vm', ED, K1),
      ...Array.from({ length: 8 }, (_, i) => store.acceptingPreIdentity().verify(`n${i}.vm`, ED, F)),
      new KnownHostsStore(path).verify('x.vm', ED, F),
    ]);
    const lines = parseKnownHosts(await readFile(path, 'utf8'));
    expect(lines.filter((l) => l.kind === 'entry')).toHaveLength(10);
    expect(lines.filter((l) => l.kind === 'preIdentity')).toHaveLength(1);
  });
});

const skipReason = await sshdUnavailableReason();

describe.skipIf(skipReason !== null)('pre-identity keys against a real sshd and OpenSSH', () => {
  let sshGuest: TestSshGuest; // `guest` is the GuestAccess below
  let dir: string;
  let key: KeyPair;
  let sshd: TestSshd;
  let store: KnownHostsStore;
  const open = (knownHosts: KnownHostsStore) => sshGuest.connect({ alias: 'web.vm', knownHosts });

  beforeAll(async () => {
    sshGuest = await startTestSshGuest({ tmpPrefix: 'banger-preid-ssh-' });
    ({ dir, key, sshd, knownHosts: store } = sshGuest);
  });
  afterAll(async () => {
    await sshGuest?.close();
  });

  it('a guest back on its pre-identity key: refused with the pre-identity conflict, let in by the view; a new foreign key is refused by both', async () => {
    (await open(store)).close(); // first connect: the "template" key (this sshd's) is recorded
    const presented = sshd.hostKey;
    const own = generateEd25519('root@web').public.trim().split(/\s+/);
    await store.rekey('web.vm', own[0], own[1]); // banger gave the guest its own key, which its disk then lost

    const err = await caught(open(store));
    expect(isPreIdentityConflict(err)).toBe(true);
    const c = await open(store.acceptingPreIdentity());
    expect((await c.run(['echo', 'in'])).stdout).toBe('in\n');
    c.close();

    // OpenSSH reads the same file: the pre-identity line is a comment to it, only the own key is trusted for the alias.
    const khPath = store.path;
    const found = await run(['ssh-keygen', '-F', 'web.vm', '-f', khPath], { check: false });
    expect(found.stdout).toContain(own[1]);
    expect(found.stdout).not.toContain(presented);

    await sshd.restart({ newHostKey: true }); // a different machine answers
    for (const s of [store, store.acceptingPreIdentity()]) {
      const foreign = await caught(open(s));
      expect(foreign.code).toBe('conflict');
      expect(isPreIdentityConflict(foreign)).toBe(false);
      expect(foreign.message).toMatch(/host key of VM "web" has changed/);
    }
  });

  it('GuestAccess re-identifies once on such a guest (concurrent opens share it) and pools that session; without the hook it refuses', async () => {
    await sshd.restart({ newHostKey: true });
    const paths = resolvePaths({ XDG_STATE_HOME: join(dir, 'ga'), XDG_RUNTIME_DIR: join(dir, 'ga-run'), XDG_CONFIG_HOME: join(dir, 'ga-cfg') });
    const kh = new KnownHostsStore(paths.knownHosts);
    const target = { vmId: 'v1', alias: 'web.vm', host: sshd.host, port: sshd.port };
    const calls: string[] = [];
    const guest = await createGuestAccess({
      keyPath: key.path,
      knownHostsPath: paths.knownHosts,
      async reidentify(session, vm, trustHostKey) {
        calls.push(`${vm.id} ${vm.name} ${(await session.run(['echo', 'on the guest'])).stdout.trim()}`);
        // What the identity step does last: trust the key it gave the guest (here: the one sshd has).
        await trustHostKey('web.vm', `ssh-ed25519 ${sshd.hostKey}`);
      },
    });
    const plain = await createGuestAccess({ keyPath: key.path, knownHostsPath: paths.knownHosts });
    try {
      await kh.verify('web.vm', ED, sshd.hostKey); // the first connect after the restore
      await kh.rekey('web.vm', ED, K1); // the identity the guest then lost
      const err = await caught(plain.open(target, { timeoutMs: 10_000 }));
      expect(isPreIdentityConflict(err)).toBe(true);

      const [a, b] = await Promise.all([guest.open(target, { timeoutMs: 10_000 }), guest.open(target, { timeoutMs: 10_000 })]);
      expect(calls).toEqual(['v1 web on the guest']);
      expect(a).toBe(b);
      expect(await guest.open(target, { timeoutMs: 10_000 })).toBe(a); // pooled
      expect((await a.run(['echo', 'ok'])).stdout).toBe('ok\n');
      expect((await kh.lookup('web.vm')).map((e) => e.key)).toEqual([sshd.hostKey]);

      // A foreign key: the hook is not asked, the conflict stands.
      guest.drop('v1');
      await sshd.restart({ newHostKey: true });
      const foreign = await caught(guest.open(target, { timeoutMs: 10_000 }));
      expect(foreign.message).toMatch(/host key of VM "web" has changed/);
      expect(calls).toHaveLength(1);
    } finally {
      guest.closeAll();
      plain.closeAll();
    }
  });
});
