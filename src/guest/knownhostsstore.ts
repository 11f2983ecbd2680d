/**
 * The known_hosts file store: trust on first use, a changed host key is an error, a pre-identity key
 * (see knownhosts.ts) a distinct conflict the caller may answer with an `acceptingPreIdentity()` view.
 * Reads-then-writes on one file run one at a time in this process; the format itself is knownhosts.ts.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BangerError } from '../api/errors.js';
import {
  checkAlias,
  checkHostKey,
  entriesFor,
  fingerprint,
  formatEntry,
  formatKnownHosts,
  isWellFormedKey,
  parseKnownHosts,
  preIdentityKeys,
  rekeyAlias,
  removeAlias,
  vmNameOf,
  type KnownHostEntry,
  type KnownHostsLine,
  type PreIdentityKey,
} from './knownhosts.js';

function mismatchError(path: string, alias: string, keyType: string, key: string, known: KnownHostEntry[]): BangerError {
  const vm = vmNameOf(alias);
  const recorded = known.map((e) => `${e.keyType} ${fingerprint(e.key)}`).join(', ');
  return new BangerError(
    'conflict',
    `the SSH host key of VM "${vm}" has changed: banger recorded ${recorded} for ${alias} in ${path} on first connect, ` +
      `and the guest now presents ${keyType} ${fingerprint(key)}. If the VM's disk was replaced or restored on purpose, ` +
      `forget the old key with \`ssh-keygen -R ${alias} -f ${path}\` and retry; otherwise do not trust this guest.`,
    { details: { vm, alias, knownHosts: path, presented: fingerprint(key), recorded: known.map((e) => fingerprint(e.key)) } },
  );
}

function preIdentityError(path: string, alias: string, keyType: string, key: string, known: KnownHostEntry[]): BangerError {
  const vm = vmNameOf(alias);
  return new BangerError(
    'conflict',
    `VM "${vm}" came up without the identity banger gave it: it presents ${keyType} ${fingerprint(key)}, the key it had before ` +
      `(its disk lost the identity step, e.g. it was killed right after create). \`banger vm restart ${vm}\` applies its identity again.`,
    { details: { vm, alias, knownHosts: path, presented: fingerprint(key), recorded: known.map((e) => fingerprint(e.key)), preIdentity: true } },
  );
}

/** Did the guest present the key it had before banger applied its identity (see the module comment)? */
export function isPreIdentityConflict(err: unknown): err is BangerError {
  return err instanceof BangerError && err.code === 'conflict' && err.details?.preIdentity === true;
}

/** One queue per file in this process, shared by every store (and view) on it. */
const queues = new Map<string, Promise<unknown>>();

/**
 * The file-backed store. All reads-then-writes on one file run one at a time in this process, so
 * concurrent first connects to one VM record one line, and a `forget` never races an append. Other
 * processes (an `ssh` CLI) only read the file; appends use O_APPEND and rewrites an atomic rename.
 */
export class KnownHostsStore {
  readonly #acceptPreIdentity: boolean;

  constructor(
    readonly path: string,
    opts: { acceptPreIdentity?: boolean } = {},
  ) {
    this.#acceptPreIdentity = opts.acceptPreIdentity ?? false;
  }

  /**
   * The same file, for the one connection that re-applies a VM's identity: a pre-identity key is
   * accepted (`'pre-identity'`) instead of refused. Everything else behaves as in the store.
   */
  acceptingPreIdentity(): KnownHostsStore {
    return new KnownHostsStore(this.path, { acceptPreIdentity: true });
  }

  /**
   * Trust on first use: an unknown alias is recorded (`'recorded'`), a matching key is accepted
   * (`'known'`), a pre-identity key throws a conflict `isPreIdentityConflict` recognises (accepted
   * as `'pre-identity'` by an `acceptingPreIdentity()` view), anything else throws
   * BangerError('conflict') naming the VM and the way out.
   */
  async verify(alias: string, keyType: string, key: string): Promise<'recorded' | 'known' | 'pre-identity'> {
    checkAlias(alias);
    if (!isWellFormedKey(keyType, key)) throw new BangerError('bad_request', `malformed host key for ${alias}`);
    return this.#serial(async () => {
      const text = await this.#readText();
      const check = checkHostKey(parseKnownHosts(text), alias, keyType, key);
      if (check.status === 'match') return 'known' as const;
      if (check.status === 'preIdentity') {
        if (this.#acceptPreIdentity) return 'pre-identity' as const;
        throw preIdentityError(this.path, alias, keyType, key, check.known);
      }
      if (check.status === 'mismatch') throw mismatchError(this.path, alias, keyType, key, check.known);
      const sep = text === '' || text.endsWith('\n') ? '' : '\n';
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await appendFile(this.path, `${sep}${formatEntry({ hosts: [alias], keyType, key })}\n`, { mode: 0o600 });
      return 'recorded' as const;
    });
  }

  /** Forgets every key of the alias, pre-identity ones included (vm delete). Resolves true when something was removed. */
  async forget(alias: string): Promise<boolean> {
    checkAlias(alias);
    return this.#serial(async () => {
      const lines = parseKnownHosts(await this.#readText());
      const kept = removeAlias(lines, alias);
      if (kept.length === lines.length && kept.every((l, i) => l === lines[i])) return false;
      await this.#rewrite(kept);
      return true;
    });
  }

  /**
   * Records the key banger just gave the alias's guest (over a session verified with the old one)
   * as its only key; the old keys become its pre-identity keys.
   */
  async rekey(alias: string, keyType: string, key: string): Promise<void> {
    checkAlias(alias);
    if (!isWellFormedKey(keyType, key)) throw new BangerError('bad_request', `malformed host key for ${alias}`);
    await this.#serial(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await this.#rewrite(rekeyAlias(parseKnownHosts(await this.#readText()), alias, keyType, key));
    });
  }

  /** The recorded keys of an alias. */
  async lookup(alias: string): Promise<KnownHostEntry[]> {
    return entriesFor(parseKnownHosts(await this.#readText()), checkAlias(alias));
  }

  /** The alias's pre-identity keys. */
  async preIdentity(alias: string): Promise<PreIdentityKey[]> {
    return preIdentityKeys(parseKnownHosts(await this.#readText()), checkAlias(alias));
  }

  async #rewrite(lines: readonly KnownHostsLine[]): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, formatKnownHosts(lines), { mode: 0o600 });
    await rename(tmp, this.path);
  }

  async #readText(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw new BangerError('unavailable', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const result = (queues.get(this.path) ?? Promise.resolve()).then(job);
    const tail = result.catch(() => {});
    queues.set(this.path, tail);
    // The map keeps no settled tail: a long-lived daemon with many stores does not grow it.
    void tail.then(() => {
      if (queues.get(this.path) === tail) queues.delete(this.path);
    });
    return result;
  }
}
