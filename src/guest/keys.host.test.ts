import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { run, which } from '../host/exec.js';
import { ensureKeyPair, generateEd25519, readKeyPair } from './keys.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('ensureKeyPair', () => {
  it('generates an ed25519 pair with private 0600, dir 0700, and is idempotent', async () => {
    const sshKey = join(dir, 'a', 'ssh', 'id_ed25519');
    const first = await ensureKeyPair({ sshKey });
    expect(await mode(sshKey)).toBe(0o600);
    expect(await mode(join(dir, 'a', 'ssh'))).toBe(0o700);
    expect(await mode(`${sshKey}.pub`)).toBe(0o644);
    expect(first.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(first.publicKeyLine).toBe(`ssh-ed25519 ${first.publicKeyBlob} banger`);
    expect(await readFile(`${sshKey}.pub`, 'utf8')).toBe(`${first.publicKeyLine}\n`);
    // The blob is what the kernel command line carries: plain base64, no spaces.
    expect(first.publicKeyBlob).toMatch(/^AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=*$/);

    const second = await ensureKeyPair({ sshKey });
    expect(second).toEqual(first);
  });

  it('gives every concurrent first caller the same key', async () => {
    const sshKey = join(dir, 'race', 'id_ed25519');
    const pairs = await Promise.all(Array.from({ length: 8 }, () => ensureKeyPair({ sshKey })));
    expect(new Set(pairs.map((p) => p.publicKeyBlob)).size).toBe(1);
    expect((await readKeyPair(sshKey)).publicKeyBlob).toBe(pairs[0].publicKeyBlob);
  });

  it('rewrites a missing or stale .pub from the private key', async () => {
    const sshKey = join(dir, 'pub', 'id_ed25519');
    const pair = await ensureKeyPair({ sshKey });
    await writeFile(`${sshKey}.pub`, 'ssh-ed25519 AAAAwrong banger\n');
    await ensureKeyPair({ sshKey });
    expect(await readFile(`${sshKey}.pub`, 'utf8')).toBe(`${pair.publicKeyLine}\n`);
  });

  it('refuses a key that is not ed25519, saying what to do', async () => {
    const sshKey = join(dir, 'rsa', 'id_rsa');
    await ensureKeyPair({ sshKey: join(dir, 'rsa', 'x') }); // creates the dir
    await writeFile(sshKey, ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private, { mode: 0o600 });
    const err = await ensureKeyPair({ sshKey }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(/not an unencrypted ed25519 private key.*ssh_key_path/);
  });

  it('writes files OpenSSH reads (ssh-keygen -y derives the same public key)', async (ctx) => {
    if (!(await which('ssh-keygen'))) ctx.skip();
    const sshKey = join(dir, 'openssh', 'id_ed25519');
    const pair = await ensureKeyPair({ sshKey });
    const r = await run(['ssh-keygen', '-y', '-f', sshKey]);
    expect(r.stdout.trim().split(' ').slice(0, 2)).toEqual(['ssh-ed25519', pair.publicKeyBlob]);
  });
});

describe('generateEd25519', () => {
  it('only hands out pairs that load back (ssh2 alone produces a malformed one about once in 150)', () => {
    for (let i = 0; i < 400; i++) {
      const pair = generateEd25519('t');
      const parsed = ssh2.utils.parseKey(pair.private);
      expect(parsed).not.toBeInstanceOf(Error);
      expect(Buffer.from(pair.public.split(' ')[1], 'base64').length).toBe(51);
    }
  });
});
