/**
 * Guest access for the services: the install's SSH key, banger's known_hosts and the pool of one
 * connection per running VM, behind one interface (`GuestAccess`) the VM, snapshot and workspace
 * services take as a dependency (the daemon wires the real one; nothing else builds it).
 */
import { ensureKeyPair, type KeyPair } from './keys.js';
import { vmNameOf } from './knownhosts.js';
import { isPreIdentityConflict, KnownHostsStore } from './knownhostsstore.js';
import { ConnectionPool } from './pool.js';
import type { GuestConnection } from './connection.js';
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

export interface GuestAccessOptions {
  keyPath: string;
  knownHostsPath: string;
  /**
   * Applies a VM's identity again (snapshots/identity-step.ts) on a session to a guest that
   * presented its pre-identity host key (guest/knownhosts.ts): its disk lost the identity step.
   * Absent: such a guest is refused with the pre-identity conflict.
   */
  reidentify?(session: GuestSession, vm: { id: string; name: string }, trustHostKey: GuestAccess['trustHostKey']): Promise<void>;
}

export async function createGuestAccess(opts: GuestAccessOptions): Promise<GuestAccess & { closeAll(): void }> {
  const key: KeyPair = await ensureKeyPair({ sshKey: opts.keyPath });
  const knownHosts = new KnownHostsStore(opts.knownHostsPath);
  const pool = new ConnectionPool({ privateKey: key.privateKey, knownHosts });
  const trustHostKey: GuestAccess['trustHostKey'] = async (alias, publicKeyLine) => {
    const [keyType, blob] = publicKeyLine.trim().split(/\s+/);
    await knownHosts.rekey(alias, keyType, blob);
  };
  /** One re-identification per VM at a time; concurrent opens share it. */
  const reidentifying = new Map<string, Promise<GuestConnection>>();
  function reidentify(t: GuestTarget, o: { timeoutMs: number; signal?: AbortSignal }): Promise<GuestConnection> {
    let job = reidentifying.get(t.vmId);
    if (!job) {
      job = (async () => {
        const target = { host: t.host, port: t.port, alias: t.alias };
        const conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts: knownHosts.acceptingPreIdentity(), timeoutMs: o.timeoutMs, signal: o.signal });
        try {
          await opts.reidentify!(conn, { id: t.vmId, name: vmNameOf(t.alias) }, trustHostKey);
        } catch (err) {
          conn.close();
          throw err;
        }
        return conn;
      })().finally(() => reidentifying.delete(t.vmId));
      reidentifying.set(t.vmId, job);
    }
    return job;
  }
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
      let conn: GuestConnection;
      try {
        conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts, timeoutMs: o.timeoutMs, signal: o.signal });
      } catch (err) {
        if (!isPreIdentityConflict(err) || !opts.reidentify) throw err;
        conn = await reidentify(t, o);
      }
      pool.put(t.vmId, conn);
      return conn;
    },
    drop: (vmId) => pool.drop(vmId),
    forget: async (alias) => void (await knownHosts.forget(alias)),
    trustHostKey,
    publicKeyBlob: async () => key.publicKeyBlob,
    keyPath: () => key.path,
    knownHostsPath: () => opts.knownHostsPath,
    closeAll: () => pool.closeAll(),
  };
}
