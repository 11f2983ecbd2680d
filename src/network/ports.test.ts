import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, hostEndpoint, mapBounded, parseForwardSpec, parseSsListening, portFree, PROBE_CONCURRENCY, PROBE_MAX } from './ports.js';

const SS = `State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*     users:(("sshd",pid=321,fd=3))
LISTEN 0      128             [::]:22            [::]:*     users:(("sshd",pid=321,fd=4))
LISTEN 0      4096   127.0.0.53%lo:53         0.0.0.0:*     users:(("systemd-resolve",pid=200,fd=14))
LISTEN 0      5                  *:8080             *:*     users:(("perl",pid=900,fd=3),("perl",pid=901,fd=3))
LISTEN 0      5              [::1]:5432          [::]:*
LISTEN 0      5          127.0.0.1:5432       0.0.0.0:*
`;

describe('parseSsListening', () => {
  it('groups addresses per port and tells loopback-only listeners apart', () => {
    expect(parseSsListening(SS)).toEqual([
      { port: 22, addresses: ['0.0.0.0', '[::]'], process: 'sshd', loopbackOnly: false },
      { port: 53, addresses: ['127.0.0.53'], process: 'systemd-resolve', loopbackOnly: true },
      { port: 5432, addresses: ['[::1]', '127.0.0.1'], process: null, loopbackOnly: true },
      { port: 8080, addresses: ['*'], process: 'perl', loopbackOnly: false },
    ]);
  });

  it('ignores headers, blanks and junk', () => {
    expect(parseSsListening('')).toEqual([]);
    expect(parseSsListening('garbage\nLISTEN 0 1 nocolon x\nLISTEN 0 1 1.2.3.4:99999 x\n')).toEqual([]);
  });
});

describe('hostEndpoint', () => {
  const user = { name: 'web', mode: 'user' as const, ip: null, sshHostPort: 40022, forwards: [{ guestPort: 8080, hostPort: 18080 }] };
  it.each([
    [user, 22, false, '127.0.0.1:40022'],
    [user, 8080, false, '127.0.0.1:18080'],
    [user, 9090, false, null],
    [user, 8080, true, null],
    [{ ...user, mode: 'bridge' as const, ip: '172.30.0.7' }, 9090, false, 'web.vm:9090'],
  ])('%#', (vm, port, loopbackOnly, want) => {
    expect(hostEndpoint(vm, { port, loopbackOnly })?.display ?? null).toBe(want);
  });

  it('connects to the guest address in bridge mode', () => {
    expect(hostEndpoint({ ...user, mode: 'bridge', ip: '172.30.0.7' }, { port: 80, loopbackOnly: false })).toEqual({ display: 'web.vm:80', host: '172.30.0.7', port: 80 });
  });
});

describe('parseForwardSpec', () => {
  it.each([
    ['8080', { guestPort: 8080 }],
    ['8080:18080', { guestPort: 8080, hostPort: 18080 }],
    [' 22:2222 ', { guestPort: 22, hostPort: 2222 }],
  ])('%s', (s, want) => expect(parseForwardSpec(s)).toEqual(want));

  it.each(['', 'x', '0', '70000', '80:', ':80', '80:0', '1:2:3'])('rejects %j', (s) => {
    expect(() => parseForwardSpec(s)).toThrow(/GUEST_PORT\[:HOST_PORT\]/);
  });
});

describe('ports on 127.0.0.1', () => {
  it('tells a taken port from a free one', async () => {
    const port = await freePort();
    expect(await portFree(port)).toBe(true);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    try {
      expect(await portFree(port)).toBe(false);
    } finally {
      srv.close();
    }
  });
});

describe('mapBounded', () => {
  it.each([
    [0, 8],
    [3, 8],
    [100, 8],
    [5, 1],
  ])('%i items, limit %i: in order, never more than the limit in flight', async (n, limit) => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapBounded(
      Array.from({ length: n }, (_, i) => i),
      limit,
      async (x) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 1 + (x % 3)));
        inFlight--;
        return x * 2;
      },
    );
    expect(out).toEqual(Array.from({ length: n }, (_, i) => i * 2));
    expect(peak).toBeLessThanOrEqual(limit);
    if (n >= limit) expect(peak).toBe(limit);
  });

  it('refuses a limit below 1', async () => {
    await expect(mapBounded([1], 0, async (x) => x)).rejects.toThrow(/positive integer/);
  });

  it('caps vm ports probes: 8 at once, 64 in all', () => {
    expect([PROBE_CONCURRENCY, PROBE_MAX]).toEqual([8, 64]);
  });
});
