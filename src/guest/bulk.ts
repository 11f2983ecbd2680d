/**
 * The host end of the bulk channel: a raw byte pipe into a running guest (QEMU virtio-serial port
 * `banger.bulk`, host end a unix socket in the VM's 0700 runtime directory, made 0600 at start by
 * hypervisor/qemu/bulksocket.ts). SSH stays the control channel: the guest command that reads the
 * port is started over SSH, and its exit is the acknowledgement (closing the socket earlier would
 * drop bytes still in flight). The daemon runs one transfer per VM at a time (`BulkChannels.with`).
 * No port, an old snapshot without it, a socket that is not the daemon's: `open` says why and the
 * caller uses SSH.
 */
import { lstatSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { KeyedMutex } from '../host/locks.js';
import { bulkChunks, bulkEnd, bulkHeader } from './bulkframe.js';

export type BulkOpen = { socket: Socket } | { socket: null; why: string };

export interface BulkChannels {
  /** Runs fn holding the VM's bulk lock: one transfer per VM at a time. */
  with<T>(vmId: string, fn: () => Promise<T>): Promise<T>;
  /** Is the VM's bulk socket (`handles.bulkSocket`) there and the daemon's alone? null when usable, else why not. */
  check(socketPath: unknown): string | null;
  /** Connects to it (after the guest has opened its end), or says why not. */
  open(socketPath: unknown, timeoutMs?: number): Promise<BulkOpen>;
}

export function createBulkChannels(uid = process.getuid?.() ?? 0): BulkChannels {
  const lock = new KeyedMutex();
  const check = (socketPath: unknown): string | null => {
    if (typeof socketPath !== 'string' || !socketPath) return 'the VM has no bulk channel (booted before it existed, or its hypervisor has none)';
    let st;
    try {
      st = lstatSync(socketPath);
    } catch (err) {
      return `no bulk socket (${(err as NodeJS.ErrnoException).code})`;
    }
    if (!st.isSocket() || st.uid !== uid || (st.mode & 0o077) !== 0) return `${socketPath} is not a private socket of this daemon's user; not used`;
    return null;
  };
  return {
    with: (vmId, fn) => lock.with(vmId, fn),
    check,
    async open(socketPath, timeoutMs = 5000) {
      const why = check(socketPath);
      if (why !== null) return { socket: null, why };
      return new Promise<BulkOpen>((resolve) => {
        const s = createConnection(socketPath as string);
        const timer = setTimeout(() => {
          s.destroy();
          resolve({ socket: null, why: `connecting to ${socketPath} timed out` });
        }, timeoutMs);
        s.once('connect', () => {
          clearTimeout(timer);
          s.removeAllListeners('error');
          s.on('error', () => {}); // the transfer reports through the guest's exit
          resolve({ socket: s });
        });
        s.once('error', (err: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve({ socket: null, why: `connecting to the bulk socket failed (${err.code ?? err.message})` });
        });
      });
    },
  };
}

/** Frames a byte stream for the channel (bulkframe.ts): the header first, chunks, the end frame on end(). */
export class BulkFramer extends Transform {
  total = 0;
  private started = false;
  constructor(private readonly token: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.started) {
      this.started = true;
      this.push(bulkHeader(this.token));
    }
    this.total += chunk.length;
    for (const b of bulkChunks(chunk)) this.push(b);
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (!this.started) this.push(bulkHeader(this.token));
    this.push(bulkEnd(this.total));
    cb();
  }
}
