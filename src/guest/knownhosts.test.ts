import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import {
  aliasFor,
  checkHostKey,
  entriesFor,
  fingerprint,
  formatKnownHosts,
  hostKeyFromBlob,
  parseKnownHosts,
  removeAlias,
  vmNameOf,
} from './knownhosts.js';
import { KnownHostsStore } from './knownhostsstore.js';

const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIIzUs9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIHZ1c9g10hd9skrOWqMa09wj60SSZZJqSxAnyXgD93BY';

function hashed(host: string, salt = Buffer.alloc(20, 7)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')}`;
}

describe('known_hosts text', () => {
  const text = [
    '# banger known hosts',
    `web.vm ssh-ed25519 ${K1}`,
    `db.vm,other.vm ssh-ed25519 ${K2} a comment`,
    '@revoked * ssh-rsa AAAAB3',
    'garbage line',
    '',
    `${hashed('hidden.vm')} ssh-ed25519 ${K1}`,
  ].join('\n');

  it('round-trips every line verbatim', () => {
    expect(formatKnownHosts(parseKnownHosts(`${text}\n`))).toBe(`${text}\n`);
    expect(formatKnownHosts(parseKnownHosts(''))).toBe('');
  });

  it.each([
    ['web.vm', [K1]],
    ['WEB.vm', [K1]],
    ['db.vm', [K2]],
    ['other.vm', [K2]],
    ['hidden.vm', [K1]],
    ['nope.vm', []],
    ['web', []],
  ])('entriesFor(%s)', (alias, keys) => {
    expect(entriesFor(parseKnownHosts(text), alias).map((e) => e.key)).toEqual(keys);
  });

  it.each([
    ['web.vm', 'ssh-ed25519', K1, 'match'],
    ['web.vm', 'ssh-ed25519', K2, 'mismatch'],
    ['web.vm', 'ecdsa-sha2-nistp256', K1, 'mismatch'],
    ['new.vm', 'ssh-ed25519', K1, 'unknown'],
    ['hidden.vm', 'ssh-ed25519', K2, 'mismatch'],
  ])('checkHostKey(%s, %s, …) is %s', (alias, type, key, status) => {
    expect(checkHostKey(parseKnownHosts(text), alias, type, key).status).toBe(status);
  });

  it('removeAlias drops own lines, trims shared ones, keeps the rest', () => {
    const lines = parseKnownHosts(text);
    expect(formatKnownHosts(removeAlias(lines, 'web.vm'))).not.toContain(`web.vm ssh-ed25519`);
    const shared = formatKnownHosts(removeAlias(lines, 'db.vm'));
    expect(shared).toContain(`other.vm ssh-ed25519 ${K2} a comment`);
    expect(shared).not.toContain('db.vm');
    expect(shared).toContain('# banger known hosts');
    expect(shared).toContain('garbage line');
    expect(entriesFor(removeAlias(lines, 'hidden.vm'), 'hidden.vm')).toEqual([]);
    expect(removeAlias(lines, 'nope.vm')).toEqual(lines);
  });

  it('reads the key type from a wire-format blob and rejects junk', () => {
    expect(hostKeyFromBlob(Buffer.from(K1, 'base64'))).toEqual({ keyType: 'ssh-ed25519', key: K1 });
    expect(() => hostKeyFromBlob(Buffer.from([0, 0, 0]))).toThrow(BangerError);
    expect(() => hostKeyFromBlob(Buffer.from([0, 0, 0, 9, 0x41]))).toThrow(/malformed/);
    expect(() => hostKeyFromBlob(Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('a b')]))).toThrow(/malformed/);
  });

  it('fingerprints like ssh-keygen -l (SHA256, unpadded base64)', () => {
    expect(fingerprint(K1)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprint(K1)).not.toBe(fingerprint(K2));
  });

  it('maps VM names and aliases', () => {
    expect(aliasFor('web')).toBe('web.vm');
    expect(vmNameOf('web.vm')).toBe('web');
    expect(vmNameOf('plain')).toBe('plain');
  });
});

describe('KnownHostsStore', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-kh-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trusts on first use, accepts a match, rejects a change naming the VM, forgets on delete', async () => {
    const path = join(dir, 'ssh', 'known_hosts');
    const store = new KnownHostsStore(path);
    expect(await store.verify('web.vm', 'ssh-ed25519', K1)).toBe('recorded');
    expect(await readFile(path, 'utf8')).toBe(`web.vm ssh-ed25519 ${K1}\n`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await store.verify('web.vm', 'ssh-ed25519', K1)).toBe('known');

    const err = (await store.verify('web.vm', 'ssh-ed25519', K2).catch((e: unknown) => e)) as BangerError;
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('conflict');
    expect(err.message).toContain('VM "web"');
    expect(err.message).toContain(fingerprint(K2));
    expect(err.message).toContain(`ssh-keygen -R web.vm -f ${path}`);
    expect(err.details).toMatchObject({ vm: 'web', alias: 'web.vm' });

    expect(await store.forget('web.vm')).toBe(true);
    expect(await store.forget('web.vm')).toBe(false);
    expect(await store.verify('web.vm', 'ssh-ed25519', K2)).toBe('recorded');
    expect(await store.lookup('web.vm')).toEqual([{ hosts: ['web.vm'], keyType: 'ssh-ed25519', key: K2 }]);
  });

  it('records one line when many first connects race, and keeps other aliases', async () => {
    const path = join(dir, 'race_known_hosts');
    const store = new KnownHostsStore(path);
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => store.verify('a.vm', 'ssh-ed25519', K1)),
      ...Array.from({ length: 10 }, (_, i) => store.verify(`n${i}.vm`, 'ssh-ed25519', K2)),
      store.forget('n3.vm'),
    ]);
    expect(results.filter((r) => r === 'recorded')).toHaveLength(11);
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines.filter((l) => l.startsWith('a.vm '))).toHaveLength(1);
    // The forget was queued after n3's first connect, so it removed that line and nothing else.
    expect(lines).toHaveLength(10);
    expect(lines.some((l) => l.startsWith('n3.vm '))).toBe(false);
  });

  it('appends after a file that lacks a final newline', async () => {
    const path = join(dir, 'nonl');
    await writeFile(path, `x.vm ssh-ed25519 ${K1}`);
    await new KnownHostsStore(path).verify('y.vm', 'ssh-ed25519', K2);
    expect(await readFile(path, 'utf8')).toBe(`x.vm ssh-ed25519 ${K1}\ny.vm ssh-ed25519 ${K2}\n`);
  });

  it('rejects aliases that would corrupt the file', async () => {
    const store = new KnownHostsStore(join(dir, 'bad'));
    for (const alias of ['a b', 'a,b', '*.vm', '', '#x', '|1|x']) {
      await expect(store.verify(alias, 'ssh-ed25519', K1)).rejects.toMatchObject({ code: 'bad_request' });
    }
  });
});
