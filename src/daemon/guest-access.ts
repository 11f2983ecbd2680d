/** Wires the SSH layer (key, known_hosts, pool, wait) into the GuestAccess the VM service uses. */
import { ensureKeyPair, type KeyPair } from '../guest/keys.js';
import { isPreIdentityConflict, KnownHostsStore, vmNameOf } from '../guest/knownhosts.js';
import { ConnectionPool } from '../guest/pool.js';
import type { GuestConnection } from '../guest/ssh.js';
import { waitForSsh } from '../guest/wait.js';
import type { Paths } from '../store/paths.js';
import type { GuestAccess, GuestSession, GuestTarget } from '../vms/service.js';

export interface GuestAccessHooks {
  /**
   * Applies a VM's identity again (snapshots/identity-step.ts) on a session to a guest that
   * presented its pre-identity host key (guest/knownhosts.ts): its disk lost the identity step.
   * Absent: such a guest is refused with the pre-identity conflict.
   */
  reidentify?(session: GuestSession, vm: { id: string; name: string }, trustHostKey: GuestAccess['trustHostKey']): Promise<void>;
}

export async function createGuestAccess(paths: Paths, keyPath?: string | null, hooks: GuestAccessHooks = {}): Promise<GuestAccess & { closeAll(): void }> {
  const key: KeyPair = await ensureKeyPair({ sshKey: keyPath ?? paths.sshKey });
  const knownHosts = new KnownHostsStore(paths.knownHosts);
  const pool = new ConnectionPool({ privateKey: key.privateKey, knownHosts });
  const trustHostKey: GuestAccess['trustHostKey'] = async (alias, publicKeyLine) => {
    const [keyType, blob] = publicKeyLine.trim().split(/\s+/);
    await knownHosts.rekey(alias, keyType, blob);
  };
  /** One re-identification per VM at a time; concurrent opens share it. */
  const reidentifying = new Map<string, Promise<GuestConnection>>();
  function reidentify(t: GuestTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<GuestConnection> {
    let job = reidentifying.get(t.vmId);
    if (!job) {
      job = (async () => {
        const target = { host: t.host, port: t.port, alias: t.alias };
        const conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts: knownHosts.acceptingPreIdentity(), timeoutMs: opts.timeoutMs, signal: opts.signal });
        try {
          await hooks.reidentify!(conn, { id: t.vmId, name: vmNameOf(t.alias) }, trustHostKey);
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
    async open(t, opts) {
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
        conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts, timeoutMs: opts.timeoutMs, signal: opts.signal });
      } catch (err) {
        if (!isPreIdentityConflict(err) || !hooks.reidentify) throw err;
        conn = await reidentify(t, opts);
      }
      pool.put(t.vmId, conn);
      return conn;
    },
    drop: (vmId) => pool.drop(vmId),
    forget: async (alias) => void (await knownHosts.forget(alias)),
    trustHostKey,
    publicKeyBlob: async () => key.publicKeyBlob,
    keyPath: () => key.path,
    knownHostsPath: () => paths.knownHosts,
    closeAll: () => pool.closeAll(),
  };
}
