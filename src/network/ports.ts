/** Free TCP ports on 127.0.0.1, picked by the kernel (host ports are shared with other processes). */
import { createServer } from 'node:net';
import type { NetworkMode } from '../api/enums.js';
import { vmHostName } from '../api/names.js';
import { BangerError } from '../api/errors.js';

export { freePort } from '../host/freeport.js';

/** Is a TCP port on 127.0.0.1 free right now? (It may be taken a moment later; callers handle that.) */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface ListeningPort {
  port: number;
  /** Local addresses it listens on, as `ss` prints them (`0.0.0.0`, `[::]`, `127.0.0.1`, `*`). */
  addresses: string[];
  /** The first process holding it, when `ss -p` could tell. */
  process: string | null;
  /** Listens only on loopback: unreachable from outside the guest. */
  loopbackOnly: boolean;
}

const LOOPBACK = (addr: string) => /^127\./.test(addr) || addr === '[::1]' || addr === '::1';

/**
 * `ss -ltnp` output (with or without its header) → listening TCP ports, one entry per port, sorted.
 * Lines look like `LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))`.
 */
export function parseSsListening(output: string): ListeningPort[] {
  const byPort = new Map<number, ListeningPort>();
  for (const line of output.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'LISTEN' || f.length < 5) continue;
    const local = f[3];
    const colon = local.lastIndexOf(':');
    if (colon <= 0) continue;
    const port = Number(local.slice(colon + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    // `127.0.0.53%lo:53`: drop the interface scope.
    const addr = local.slice(0, colon).replace(/%[^\]]*$/, '').replace(/%[^\]]*\]$/, ']');
    const proc = /users:\(\("([^"]*)"/.exec(f.slice(5).join(' '))?.[1] ?? null;
    const cur = byPort.get(port) ?? { port, addresses: [], process: null, loopbackOnly: true };
    if (!cur.addresses.includes(addr)) cur.addresses.push(addr);
    cur.process ??= proc;
    cur.loopbackOnly = cur.addresses.every(LOOPBACK);
    byPort.set(port, cur);
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

export interface Forward {
  hostPort: number;
  guestPort: number;
}

/**
 * Where the host reaches a guest port: `NAME.vm:PORT` in bridge mode, `127.0.0.1:HOSTPORT` in user
 * mode when the port is forwarded (SSH always is), else nothing. Loopback-only listeners have none.
 */
export function hostEndpoint(
  vm: { name: string; mode: NetworkMode; ip: string | null; sshHostPort: number | null; forwards: Forward[] },
  p: Pick<ListeningPort, 'port' | 'loopbackOnly'>,
): { display: string; host: string; port: number } | null {
  if (p.loopbackOnly) return null;
  if (vm.mode === 'bridge') return vm.ip ? { display: `${vmHostName(vm.name)}:${p.port}`, host: vm.ip, port: p.port } : null;
  const host = p.port === 22 && vm.sshHostPort ? vm.sshHostPort : vm.forwards.find((f) => f.guestPort === p.port)?.hostPort;
  return host ? { display: `127.0.0.1:${host}`, host: '127.0.0.1', port: host } : null;
}

/** `GUEST[:HOST]` from `banger vm forward`. */
export function parseForwardSpec(spec: string): { guestPort: number; hostPort?: number } {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(spec.trim());
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!m || !ok(Number(m[1])) || (m[2] !== undefined && !ok(Number(m[2])))) {
    throw new BangerError('bad_request', `"${spec}" is not GUEST_PORT[:HOST_PORT], e.g. 8080 or 8080:18080 (ports 1-65535)`);
  }
  return m[2] === undefined ? { guestPort: Number(m[1]) } : { guestPort: Number(m[1]), hostPort: Number(m[2]) };
}

/**
 * `vm ports` probes: at most this many at once, and this many in all (a guest chooses how many ports
 * it listens on; each probe may wait its full deadline). Ports past the cap are listed unprobed.
 */
export const PROBE_CONCURRENCY = 8;
export const PROBE_MAX = 64;

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new BangerError('bad_request', `concurrency limit must be a positive integer, got ${limit}`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
