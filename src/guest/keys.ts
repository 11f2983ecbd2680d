/**
 * The install's SSH key: one ed25519 pair under the state dir, generated on first use.
 *
 * Generated in-process with ssh2's `utils.generateKeyPairSync` rather than `ssh-keygen`:
 * it needs no host tool (the daemon's SSH path is pure JS), costs ~1 ms, and writes the same
 * OpenSSH formats (`-----BEGIN OPENSSH PRIVATE KEY-----`, `ssh-ed25519 AAAA... comment`), so
 * `ssh -i` and `ssh-keygen -y` read the files as if ssh-keygen had made them (tested).
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { BangerError } from '../api/errors.js';
import type { Paths } from '../store/paths.js';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { utils } = ssh2;

/** The comment written after the public key; the guest's initramfs writes the same one. */
export const KEY_COMMENT = 'banger';
/** The only key type the boot contract (`banger.key=BASE64` → `ssh-ed25519 BASE64 banger`) carries. */
export const KEY_TYPE = 'ssh-ed25519';

export interface KeyPair {
  /** Where the private key lives (the `.pub` sits beside it). */
  path: string;
  /** OpenSSH private key text, as ssh2's `privateKey` option and `ssh -i` take it. */
  privateKey: string;
  /** `ssh-ed25519 AAAA... banger`: an authorized_keys line. */
  publicKeyLine: string;
  /** The base64 key blob alone, for the kernel command line (`banger.key=`). */
  publicKeyBlob: string;
}

/** Parses an OpenSSH private key and derives the public parts. Pure. */
export function keyPairFromPrivate(path: string, privateKey: string): KeyPair {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    const why = parsed instanceof Error ? parsed.message : 'the file holds several keys';
    throw new BangerError('bad_request', `cannot read the SSH key ${path}: ${why}; delete it to let banger generate a new one`, {
      details: { path },
    });
  }
  const key = parsed as ParsedKey;
  if (key.type !== KEY_TYPE || key.getPrivatePEM() === null) {
    throw new BangerError(
      'bad_request',
      `the SSH key ${path} is not an unencrypted ed25519 private key (found ${key.type}); point ssh_key_path at one, or delete the file to let banger generate it`,
      { details: { path, type: key.type } },
    );
  }
  const publicKeyBlob = key.getPublicSSH().toString('base64');
  return { path, privateKey, publicKeyLine: `${KEY_TYPE} ${publicKeyBlob} ${KEY_COMMENT}`, publicKeyBlob };
}

/** Reads an existing key pair (the private key is the source of truth; `.pub` is derived). */
export async function readKeyPair(path: string): Promise<KeyPair> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BangerError(code === 'ENOENT' ? 'not_found' : 'unavailable', `cannot read the SSH key ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  return keyPairFromPrivate(path, text);
}

/**
 * Returns the install's key pair, generating it on first use: private key 0600, its directory
 * 0700, `.pub` 0644. Safe when several callers race on first use: the private key is published
 * with link(2), which never overwrites, so everyone ends up with the same key.
 */
export async function ensureKeyPair(paths: Pick<Paths, 'sshKey'>): Promise<KeyPair> {
  const path = paths.sshKey;
  let pair: KeyPair;
  try {
    pair = await readKeyPair(path);
  } catch (err) {
    if (!(err instanceof BangerError && err.code === 'not_found')) throw err;
    pair = await generateAt(path);
  }
  await writePublicIfStale(pair);
  return pair;
}

/**
 * A new ed25519 pair in OpenSSH format. ssh2's generator drops a leading zero byte of the public
 * key about once in 150 keys, giving a file neither ssh2 nor OpenSSH can load (measured: 2 of 300),
 * so every pair is parsed back before use and regenerated if it does not load.
 */
export function generateEd25519(comment: string): { private: string; public: string } {
  for (let i = 0; i < 20; i++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    const parsed = utils.parseKey(pair.private);
    if (!(parsed instanceof Error) && !Array.isArray(parsed) && parsed.getPublicSSH().length === 51) return pair;
  }
  throw new BangerError('internal', 'could not generate a valid ed25519 key in 20 attempts');
}

async function generateAt(path: string): Promise<KeyPair> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const generated = generateEd25519(KEY_COMMENT);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, generated.private, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Someone else published first: theirs wins.
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return readKeyPair(path);
}

async function writePublicIfStale(pair: KeyPair): Promise<void> {
  const pubPath = `${pair.path}.pub`;
  const wanted = `${pair.publicKeyLine}\n`;
  const current = await readFile(pubPath, 'utf8').catch(() => null);
  if (current !== null && current.trim().split(/\s+/)[1] === pair.publicKeyBlob) return;
  const tmp = `${pubPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, wanted, { mode: 0o644 });
  await rename(tmp, pubPath);
}
