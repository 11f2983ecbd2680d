/** Wires the SSH layer (key, known_hosts, pool, wait) into the GuestAccess the VM service uses. */
import { ensureKeyPair, type KeyPair } from '../guest/keys.js';
import { KnownHostsStore } from '../guest/knownhosts.js';
import { ConnectionPool } from '../guest/pool.js';
import { waitForSsh } from '../guest/wait.js';
import type { Paths } from '../store/paths.js';
import type { GuestAccess } from '../vms/service.js';

export async function createGuestAccess(paths: Paths, keyPath?: string | null): Promise<GuestAccess & { closeAll(): void }> {
  const key: KeyPair = await ensureKeyPair({ sshKey: keyPath ?? paths.sshKey });
  const knownHosts = new KnownHostsStore(paths.knownHosts);
  const pool = new ConnectionPool({ privateKey: key.privateKey, knownHosts });
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
      {
        const conn = await waitForSsh({ ...target, privateKey: key.privateKey, knownHosts, timeoutMs: opts.timeoutMs, signal: opts.signal });
        pool.put(t.vmId, conn);
        return conn;
      }
    },
    drop: (vmId) => pool.drop(vmId),
    forget: async (alias) => void (await knownHosts.forget(alias)),
    async trustHostKey(alias, publicKeyLine) {
      const [keyType, key] = publicKeyLine.trim().split(/\s+/);
      await knownHosts.forget(alias);
      await knownHosts.verify(alias, keyType, key);
    },
    publicKeyBlob: async () => key.publicKeyBlob,
    keyPath: () => key.path,
    knownHostsPath: () => paths.knownHosts,
    closeAll: () => pool.closeAll(),
  };
}
