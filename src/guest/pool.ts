/**
 * The daemon's live SSH connections: one per running VM, reused by every exec on it.
 * A closed connection is replaced on the next `get`; concurrent `get`s share one connect.
 */
import { BangerError } from '../api/errors.js';
import type { KnownHostsStore } from './knownhostsstore.js';
import type { GuestConnection, SshTarget } from './connection.js';
import { connect as sshConnect, type ConnectOptions } from './ssh.js';

export interface ConnectionPoolOptions {
  privateKey: string;
  knownHosts: KnownHostsStore;
  /** @default 20000 */
  readyTimeoutMs?: number;
  maxChannels?: number;
  /** Seam for tests; the real ssh connect by default. */
  connect?: (opts: ConnectOptions) => Promise<GuestConnection>;
}

interface Entry {
  target: SshTarget;
  conn?: GuestConnection;
  pending?: Promise<GuestConnection>;
}

const sameTarget = (a: SshTarget, b: SshTarget) => a.host === b.host && a.port === b.port && a.alias === b.alias;

export class ConnectionPool {
  readonly #entries = new Map<string, Entry>();
  readonly #connect: (opts: ConnectOptions) => Promise<GuestConnection>;

  constructor(private readonly opts: ConnectionPoolOptions) {
    this.#connect = opts.connect ?? sshConnect;
  }

  /** The VM's live connection, connecting (once, however many callers) when there is none or the target moved. */
  get(vmId: string, target: SshTarget): Promise<GuestConnection> {
    const current = this.#entries.get(vmId);
    if (current && sameTarget(current.target, target)) {
      if (current.conn && !current.conn.closed) return Promise.resolve(current.conn);
      if (current.pending) return current.pending;
    }
    if (current) this.drop(vmId);
    const entry: Entry = { target };
    this.#entries.set(vmId, entry);
    entry.pending = this.#connect({
      ...target,
      privateKey: this.opts.privateKey,
      knownHosts: this.opts.knownHosts,
      readyTimeoutMs: this.opts.readyTimeoutMs,
      maxChannels: this.opts.maxChannels,
    }).then(
      (conn) => {
        if (this.#entries.get(vmId) !== entry) {
          conn.close();
          throw new BangerError('unavailable', `the SSH connection to ${target.alias} was dropped while it was being opened (the VM is stopping?)`);
        }
        this.#adopt(vmId, entry, conn);
        return conn;
      },
      (err: unknown) => {
        if (this.#entries.get(vmId) === entry) this.#entries.delete(vmId);
        throw err;
      },
    );
    return entry.pending;
  }

  /** Hands the pool a connection opened elsewhere (waitForSsh at boot), replacing any other. */
  put(vmId: string, conn: GuestConnection): void {
    const current = this.#entries.get(vmId);
    if (current?.conn === conn) return;
    if (current) this.drop(vmId);
    const entry: Entry = { target: conn.target };
    this.#entries.set(vmId, entry);
    this.#adopt(vmId, entry, conn);
  }

  /** Closes and forgets the VM's connection (stop, kill, delete). */
  drop(vmId: string): void {
    const entry = this.#entries.get(vmId);
    if (!entry) return;
    this.#entries.delete(vmId);
    entry.conn?.close();
  }

  closeAll(): void {
    for (const vmId of [...this.#entries.keys()]) this.drop(vmId);
  }

  /** VM ids with a live or opening connection. */
  ids(): string[] {
    return [...this.#entries.keys()];
  }

  #adopt(vmId: string, entry: Entry, conn: GuestConnection): void {
    entry.conn = conn;
    entry.pending = undefined;
    conn.onClose(() => {
      if (this.#entries.get(vmId) === entry) this.#entries.delete(vmId);
    });
  }
}
