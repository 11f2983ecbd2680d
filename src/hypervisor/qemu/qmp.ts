/**
 * A QMP (QEMU Machine Protocol) client over QEMU's unix socket: greeting, capability negotiation,
 * commands correlated by id, and asynchronous events. One connection per operation is the norm
 * (`withQmp`): QEMU serves one QMP client per socket at a time, and short connections survive
 * daemon restarts without any state to rebuild.
 */
import { createConnection, type Socket } from 'node:net';
import { z } from 'zod';
import { BangerError, type ErrorCode } from '../../api/errors.js';

const QmpVersion = z.object({
  qemu: z.object({ major: z.number(), minor: z.number(), micro: z.number() }),
  package: z.string(),
});

export const QmpGreeting = z.object({ QMP: z.object({ version: QmpVersion, capabilities: z.array(z.unknown()) }) });
export type QmpGreeting = z.infer<typeof QmpGreeting>;

const QmpId = z.union([z.number(), z.string()]);
const QmpReturn = z.object({ return: z.unknown(), id: QmpId.optional() });
const QmpError = z.object({ error: z.object({ class: z.string(), desc: z.string() }), id: QmpId.optional() });
export const QmpEvent = z.object({
  event: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.object({ seconds: z.number(), microseconds: z.number() }),
});
export type QmpEvent = z.infer<typeof QmpEvent>;

/** Every message QEMU sends, told apart by its key. */
export const QmpMessage = z.union([QmpGreeting, QmpReturn, QmpError, QmpEvent]);
export type QmpMessage = z.infer<typeof QmpMessage>;

/** Splits a byte stream into QMP messages (one JSON object per CRLF-terminated line). Pure; fed chunk by chunk. */
export class QmpDecoder {
  private buffered = '';

  push(chunk: Buffer | string): QmpMessage[] {
    this.buffered += chunk.toString();
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    const out: QmpMessage[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      if (!line) continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (err) {
        throw new BangerError('internal', `QMP sent a line that is not JSON: ${line.slice(0, 200)}`, { cause: err });
      }
      const parsed = QmpMessage.safeParse(json);
      if (!parsed.success) throw new BangerError('internal', `QMP sent an unexpected message: ${line.slice(0, 200)}`);
      out.push(parsed.data);
    }
    return out;
  }
}

/** QMP error classes mapped to banger's codes; anything else is internal. */
const ERROR_CODES: Record<string, ErrorCode> = {
  CommandNotFound: 'unavailable',
  DeviceNotFound: 'not_found',
  DeviceNotActive: 'conflict',
  KVMMissingCap: 'unavailable',
};

export interface QmpConnectOptions {
  /** How long to wait for the socket to accept and QEMU to greet. @default 5000 */
  timeoutMs?: number;
}

export interface QmpExecuteOptions {
  /** @default 30000 */
  timeoutMs?: number;
}

type Pending = { command: string; resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout };

export class QmpClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private readonly closeListeners = new Set<(err: BangerError) => void>();
  private closedError: BangerError | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    readonly greeting: QmpGreeting,
    decoder: QmpDecoder,
  ) {
    socket.on('data', (chunk) => {
      let messages: QmpMessage[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        this.fail(err as BangerError);
        return;
      }
      for (const m of messages) this.dispatch(m);
    });
    socket.on('error', (err) => this.fail(new BangerError('unavailable', `QMP connection to ${socketPath} failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new BangerError('unavailable', `QMP connection to ${socketPath} closed (QEMU exited?)`)));
  }

  /** Connects, reads the greeting and leaves capability-negotiation mode. */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const decoder = new QmpDecoder();
    const { socket, greeting } = await new Promise<{ socket: Socket; greeting: QmpGreeting }>((resolve, reject) => {
      const socket = createConnection(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BangerError('unavailable', `QEMU did not greet on ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onData = (chunk: Buffer) => {
        let messages: QmpMessage[];
        try {
          messages = decoder.push(chunk);
        } catch (err) {
          done(err);
          return;
        }
        const first = messages[0];
        if (!first) return;
        if (!('QMP' in first)) {
          done(new BangerError('internal', `QMP on ${socketPath} did not start with a greeting`));
          return;
        }
        // Anything after the greeting in the same chunk would be unsolicited; QEMU sends nothing until asked.
        done(undefined, first);
      };
      const onError = (err: NodeJS.ErrnoException) =>
        done(new BangerError('unavailable', `cannot connect to QMP socket ${socketPath}: ${err.code ?? err.message} (is the VM running?)`, { cause: err }));
      const onClose = () => done(new BangerError('unavailable', `QMP socket ${socketPath} closed before the greeting (another client connected?)`));
      function done(err: unknown, greeting?: QmpGreeting) {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve({ socket, greeting: greeting! });
      }
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
    });
    const client = new QmpClient(socket, socketPath, greeting, decoder);
    try {
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Runs one command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: QmpExecuteOptions = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BangerError('unavailable', `QEMU did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with the next event named `name` (and matching `match`). Call it before the command
   * that triggers the event, then await it.
   */
  waitForEvent(name: string, opts: { timeoutMs: number; match?: (e: QmpEvent) => boolean }): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const stop = () => {
        clearTimeout(timer);
        off();
        this.closeListeners.delete(onClose);
      };
      const timer = setTimeout(() => {
        stop();
        reject(new BangerError('unavailable', `QEMU sent no ${name} event within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name || (opts.match && !opts.match(e))) return;
        stop();
        resolve(e);
      });
      const onClose = (err: BangerError) => {
        stop();
        reject(err);
      };
      if (this.closedError) onClose(this.closedError);
      else this.closeListeners.add(onClose);
    });
  }

  /** The connection ended (QEMU exited, or `close` was called). */
  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    if (!this.closedError) this.closedError = new BangerError('unavailable', `QMP connection to ${this.socketPath} was closed`);
    this.socket.destroy();
    this.rejectAll(this.closedError);
  }

  private dispatch(m: QmpMessage): void {
    if ('event' in m) {
      for (const l of [...this.listeners]) l(m);
      return;
    }
    if ('QMP' in m) return;
    const id = typeof m.id === 'number' ? m.id : Number(m.id);
    const p = this.pending.get(id);
    if (!p) return; // a reply to a command we already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in m) {
      p.reject(
        new BangerError(ERROR_CODES[m.error.class] ?? 'internal', `QEMU refused ${p.command}: ${m.error.desc}`, {
          details: { qmpClass: m.error.class, command: p.command },
        }),
      );
    } else p.resolve(m.return);
  }

  private fail(err: BangerError): void {
    if (!this.closedError) this.closedError = err;
    this.rejectAll(this.closedError);
  }

  private rejectAll(err: BangerError): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    for (const l of [...this.closeListeners]) l(err);
    this.closeListeners.clear();
  }
}

/** Opens a connection, runs `fn`, always closes. */
export async function withQmp<T>(socketPath: string, fn: (qmp: QmpClient) => Promise<T>, opts: QmpConnectOptions = {}): Promise<T> {
  const qmp = await QmpClient.connect(socketPath, opts);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}
