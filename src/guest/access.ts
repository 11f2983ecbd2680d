/**
 * Guest access for the services: the install's SSH key, banger's known_hosts and the pool of one
 * connection per running VM, behind one interface (`GuestAccess`) the VM, snapshot and workspace
 * services take as a dependency (the daemon wires the real one; nothing else builds it).
 */
import { ensureKeyPair, type KeyPair } from './keys.js';
import { KnownHostsStore } from './knownhosts.js';
import { ConnectionPool } from './pool.js';
import type { GuestConnection } from './ssh.js';
import { waitForSsh } from './wait.js';

/** A command channel to one running guest (the daemon's pooled SSH connection). */
export type GuestSession = Pick<GuestConnection, 'run' | 'exec'>;

export interface GuestTarget {
  vmId: string;
  alias: string;
  host: string;
  port: number;
}

export interface GuestAccess {
  /** Returns the pooled session, waiting for SSH up to timeoutMs. */
  open(target: GuestTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<GuestSession>;
  drop(vmId: string): void;
  forget(alias: string): Promise<void>;
  /** Records `publicKeyLine` as the alias's only host key (learned over an already verified session). */
  trustHostKey(alias: string, publicKeyLine: string): Promise<void>;
  publicKeyBlob(): Promise<string>;
  keyPath(): string;
  knownHostsPath(): string;
}

export async function createGuestAccess(opts: { keyPath: string; knownHostsPath: string }): Promise<GuestAccess & { closeAll(): void }> {
  const key: KeyPair = await ensureKeyPair({ sshKey: opts.keyPath });
  const knownHosts = new KnownHostsStore(opts.knownHostsPath);
  const pool = new ConnectionPool({ privateKey: key.privateKey, knownHosts });
  return {
    async open(t, o) {
      const target = { host: t.host, port: t.port, alias: t.alias };
      // A pooled connection answers at once; without one, sshd may still be booting: wait for it.
      if (pool.ids().includes(t.vmId)) {
        try {
          return await pool.get(t.vmId, target);
        } catch {
          // reconnect below
        }
      }
      const conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts, timeoutMs: o.timeoutMs, signal: o.signal });
      pool.put(t.vmId, conn);
      return conn;
    },
    drop: (vmId) => pool.drop(vmId),
    forget: async (alias) => void (await knownHosts.forget(alias)),
    async trustHostKey(alias, publicKeyLine) {
      const [keyType, k] = publicKeyLine.trim().split(/\s+/);
      await knownHosts.forget(alias);
      await knownHosts.verify(alias, keyType, k);
    },
    publicKeyBlob: async () => key.publicKeyBlob,
    keyPath: () => key.path,
    knownHostsPath: () => opts.knownHostsPath,
    closeAll: () => pool.closeAll(),
  };
}
