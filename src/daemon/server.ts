/**
 * The daemon's unix socket: frames in, frames out. It knows nothing about VMs; it hands each
 * request to dispatch and turns the outcome into frames.
 *
 * It is also where a hostile or broken client is contained (api/wire.ts WIRE_LIMITS): frames are
 * capped, a connection must send its request promptly, connections are capped, stdin is queued
 * only for a call that reads it and only up to a bound (then the socket is paused until the call
 * reads), and output streams wait for the client's socket to drain. A call starts only when its
 * request frame, and every frame that arrived with it, parsed; once started, the answer is always
 * the call's own outcome.
 */
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { z } from 'zod';
import { PassThrough, Writable } from 'node:stream';
import { BangerError, toBangerError } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import { ClientFrame, LineDecoder, RequestFrame, WIRE_LIMITS, encodeFrame } from '../api/wire.js';
import type { Logger } from '../host/logger.js';

export interface CallContext {
  progress: Progress;
  /** Aborted when the client disconnects (or breaks its stdin stream). */
  signal: AbortSignal;
  /** Raw stdin bytes from the client (exec, import from -). Ends when the client sends stdinEnd or disconnects; at once for a call that takes no stdin. */
  stdin: PassThrough;
  /** Sends output at once, whatever the client's pace: for small output. Streams go through `output`. */
  write(stream: 'stdout' | 'stderr', data: Buffer): void;
  /**
   * One output stream as a Writable that keeps the client's pace: a write completes once the
   * socket holds less than WIRE_LIMITS.outputQueueBytes, so a piped producer (a guest command's
   * channel) pauses while the client does not read. Writes after the client left are discarded.
   */
  output(stream: 'stdout' | 'stderr'): Writable;
  /** Dispatch says, once the params are valid, whether this call reads stdin; frames to a call that does not are dropped unread. */
  stdinUsed?(used: boolean): void;
}

export type Dispatch = (method: string, params: unknown, ctx: CallContext) => Promise<unknown>;

export type ServerLimits = Pick<typeof WIRE_LIMITS, 'maxRequestFrameBytes' | 'stdinQueueBytes' | 'outputQueueBytes' | 'requestTimeoutMs' | 'maxConnections' | 'refusedLingerMs'>;

export interface ServerOptions {
  socketPath: string;
  dispatch: Dispatch;
  log: Logger;
  /** Mode of the socket's directory when it has to be created. @default 0o700 */
  dirMode?: number;
  /** chown the socket to this user (bangerd-root: the owner may connect, mode stays 0600). */
  socketOwner?: { uid: number; gid: number };
  /** Checked before a connection's first byte is read: null admits it, a string refuses it with that message. */
  admit?: (sock: Socket) => string | null;
  /** Tests shorten these. @default WIRE_LIMITS */
  limits?: Partial<ServerLimits>;
}

export function startServer(opts: ServerOptions): Promise<Server> {
  const { socketPath, dispatch, log } = opts;
  const limits: ServerLimits = { ...WIRE_LIMITS, ...opts.limits };
  mkdirSync(socketPath.slice(0, socketPath.lastIndexOf('/')), { recursive: true, mode: opts.dirMode ?? 0o700 });
  rmSync(socketPath, { force: true });
  let open = 0;
  const server = createServer((sock) => {
    sock.on('error', () => {});
    const refused =
      open >= limits.maxConnections
        ? `bangerd is serving ${open} connections, its limit (WIRE_LIMITS.maxConnections); retry when some calls finish`
        : (opts.admit?.(sock) ?? null);
    if (refused !== null) {
      if (open >= limits.maxConnections) log.warn({ open }, 'connection refused: at the connection limit');
      closeAfter(sock, { error: { code: 'unavailable', message: refused } }, limits.refusedLingerMs);
      return;
    }
    open++;
    sock.once('close', () => open--);
    handleConnection(sock, dispatch, log, limits);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // umask-independent: tighten right after bind, before anything can connect meaningfully.
    server.listen(socketPath, () => {
      try {
        chmodSync(socketPath, 0o600);
        if (opts.socketOwner) chownSync(socketPath, opts.socketOwner.uid, opts.socketOwner.gid);
      } catch (err) {
        server.close();
        reject(err);
        return;
      }
      resolve(server);
    });
  });
}

/**
 * Sends a last frame and ends the socket. Once that is handed to the kernel the socket is destroyed
 * after `lingerMs`, reading (and ignoring) what the client still sends meanwhile: a client that is
 * still writing stdin when the answer comes reads it before its writes fail, and one that never
 * closes is closed.
 */
function closeAfter(sock: Socket, frame: unknown, lingerMs: number): void {
  if (sock.destroyed) return;
  sock.once('finish', () => {
    if (lingerMs <= 0) return void sock.destroy();
    sock.resume();
    const t = setTimeout(() => sock.destroy(), lingerMs);
    sock.once('close', () => clearTimeout(t));
  });
  sock.end(encodeFrame(frame));
}

type Parsed<T> = { ok: true; frame: T } | { ok: false; message: string };

function parseLine<T>(line: string, schema: z.ZodType<T>, what: string, hint: string): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, message: `malformed ${what}: not JSON; ${hint}` };
  }
  const r = schema.safeParse(json);
  return r.success ? { ok: true, frame: r.data } : { ok: false, message: `malformed ${what}: ${r.error.issues[0]?.message}; ${hint}` };
}

const REQUEST_HINT = 'upgrade the client to match the daemon';
const parseRequest = (line: string) => parseLine<RequestFrame>(line, RequestFrame, 'request', REQUEST_HINT);
const parseClientFrame = (line: string) => parseLine<ClientFrame>(line, ClientFrame, 'frame after the request', 'only stdin frames may follow it');

function handleConnection(sock: Socket, dispatch: Dispatch, log: Logger, limits: ServerLimits): void {
  const decoder = new LineDecoder(limits.maxRequestFrameBytes);
  const abort = new AbortController();
  const stdin = new PassThrough({ highWaterMark: limits.stdinQueueBytes });
  // request: waiting for the request frame; call: dispatched; done: answered (input is ignored).
  let phase: 'request' | 'call' | 'done' = 'request';
  // queue: until dispatch says (bounded, pausing the socket); read: the call reads stdin; drop: it does not.
  let stdinMode: 'queue' | 'read' | 'drop' = 'queue';
  const dropping = () => stdinMode === 'drop';
  let brokenBy: BangerError | undefined;
  const t0 = Date.now();
  const tooLong = `malformed frame: longer than ${limits.maxRequestFrameBytes} bytes (WIRE_LIMITS.maxRequestFrameBytes); send stdin in smaller frames`;

  const send = (frame: unknown) => {
    if (!sock.destroyed && sock.writable) sock.write(encodeFrame(frame));
  };
  const finish = (frame: unknown) => {
    phase = 'done';
    clearTimeout(timer);
    closeAfter(sock, frame, limits.requestTimeoutMs);
  };
  const refuse = (message: string) => {
    log.info({ msg: message }, 'request refused before it started');
    finish({ error: { code: 'bad_request', message } });
  };
  const timer = setTimeout(() => {
    if (phase === 'request') refuse(`no complete request frame within ${limits.requestTimeoutMs} ms (WIRE_LIMITS.requestTimeoutMs); send the request as one JSON line first`);
  }, limits.requestTimeoutMs);

  const endStdin = () => {
    if (!stdin.writableEnded) stdin.end();
  };
  stdin.on('drain', () => {
    if (phase === 'call') sock.resume();
  });
  const feed = (f: ClientFrame) => {
    if (stdinMode === 'drop' || stdin.writableEnded) return;
    if ('stdinEnd' in f) return endStdin();
    // Backpressure: past the queue bound, stop reading the client until the call reads.
    if (!stdin.write(Buffer.from(f.stdin, 'base64'))) sock.pause();
  };
  /** A frame that does not parse after the call started: the call's stdin is broken, so the call is cancelled (it must not act on cut input). */
  const breakStdin = (message: string) => {
    brokenBy = new BangerError('bad_request', message);
    log.info({ msg: message }, 'client broke its stdin stream; cancelling the call');
    stdinMode = 'drop';
    stdin.destroy();
    abort.abort(brokenBy);
  };

  const start = (req: RequestFrame) => {
    phase = 'call';
    clearTimeout(timer);
    const ctx: CallContext = {
      progress: (stage, message) => send({ progress: { stage, ...(message ? { message } : {}), elapsedMs: Date.now() - t0 } }),
      signal: abort.signal,
      stdin,
      write: (stream, data) => send({ stream, data: data.toString('base64') }),
      output: (stream) => outputStream(sock, stream, limits.outputQueueBytes),
      stdinUsed: (used) => {
        if (stdinMode !== 'queue') return;
        stdinMode = used ? 'read' : 'drop';
        if (!used) {
          endStdin();
          sock.resume();
        }
      },
    };
    const mlog = log.child({ method: req.method });
    mlog.debug('request');
    let outcome: Promise<unknown>;
    try {
      outcome = dispatch(req.method, req.params, ctx);
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome.then(
      (result) => finish({ result: result ?? null }),
      (err) => {
        const be = brokenBy ?? toBangerError(err);
        if (be.code === 'internal') mlog.error({ err }, 'request failed');
        else mlog.info({ code: be.code, msg: be.message }, 'request refused');
        finish({ error: be.toBody() });
      },
    );
  };

  sock.on('close', () => {
    clearTimeout(timer);
    if (phase === 'call') abort.abort();
    phase = 'done';
    endStdin();
  });
  sock.on('data', (chunk: Buffer) => {
    if (phase === 'done' || dropping()) return; // nothing reads it: not even decoded
    const lines = decoder.push(chunk);
    if (phase === 'request') {
      if (lines.length === 0) {
        if (decoder.overflowed) refuse(tooLong);
        return;
      }
      // Everything that arrived with the request must parse before the call may act.
      const req = parseRequest(lines[0]);
      if (!req.ok) return refuse(req.message);
      const rest: ClientFrame[] = [];
      for (const line of lines.slice(1)) {
        const f = parseClientFrame(line);
        if (!f.ok) return refuse(f.message);
        rest.push(f.frame);
      }
      if (decoder.overflowed) return refuse(tooLong);
      start(req.frame);
      for (const f of rest) feed(f);
      return;
    }
    for (const line of lines) {
      if (dropping()) return;
      const f = parseClientFrame(line);
      if (!f.ok) return breakStdin(f.message);
      feed(f.frame);
    }
    if (decoder.overflowed && !dropping()) breakStdin(tooLong);
  });
}

/** One output stream's frames, written at the client's pace (see CallContext.output). */
function outputStream(sock: Socket, stream: 'stdout' | 'stderr', queueBytes: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      if (sock.destroyed || !sock.writable) return done(); // the client left: discard
      sock.write(encodeFrame({ stream, data: chunk.toString('base64') }));
      if (sock.writableLength < queueBytes) return done();
      const go = () => {
        sock.off('drain', go);
        sock.off('close', go);
        done();
      };
      sock.on('drain', go);
      sock.on('close', go);
    },
  });
}
