import { describe, expect, it } from 'vitest';
import { tcpListening } from './passt.js';
import { buildPasstArgs, passtResolver, userNetBackend, userNetSummary } from './usernet.js';

describe('userNetBackend', () => {
  it.each([
    ['egress, passt installed', { egress: true }, true, 'passt'],
    ['egress, no passt: slirp fallback', { egress: true }, false, 'slirp'],
    ['no egress: slirp restrict=on', { egress: false }, true, 'slirp'],
    ['host access asked: slirp', { egress: true, hostAccess: true }, true, 'slirp'],
    ['host access off explicitly', { egress: true, hostAccess: false }, true, 'passt'],
  ] as const)('%s', (_l, net, passt, expected) => {
    expect(userNetBackend(net, passt)).toBe(expected);
  });

  it('status says whether guests reach the host loopback', () => {
    expect(userNetSummary(true)).toMatchObject({ isolated: true });
    expect(userNetSummary(false)).toMatchObject({ isolated: false, reason: expect.stringMatching(/apt-get install passt/) });
  });
});

describe('buildPasstArgs', () => {
  it('keeps slirp addressing, blocks the gateway mapping, forwards DNS and binds forwards to loopback', () => {
    const argv = buildPasstArgs({ sshHostPort: 22022, forwards: [{ hostPort: 8080, guestPort: 80 }] }, 3);
    expect(argv).toEqual([
      '--foreground', '--quiet', '--fd', '3', '--ipv4-only', '--no-map-gw',
      '--address', '10.0.2.15', '--netmask', '24', '--gateway', '10.0.2.2', '--mac-addr', '52:55:0a:00:02:02',
      '--dns-forward', '10.0.2.3',
      '--tcp-ports', '127.0.0.1/22022:22', '--tcp-ports', '127.0.0.1/8080:80',
    ]); // prettier-ignore
  });

  it('names the resolver when one is given', () => {
    const argv = buildPasstArgs({ sshHostPort: 22022, forwards: [] }, 3, '192.0.2.53');
    expect(argv.slice(argv.indexOf('--dns'), argv.indexOf('--dns') + 4)).toEqual(['--dns', '192.0.2.53', '--dns-forward', '10.0.2.3']);
  });

  it.each([
    ['ssh port', { sshHostPort: 0, forwards: [] }, /host port 0/],
    ['forward guest port', { sshHostPort: 2222, forwards: [{ hostPort: 80, guestPort: 70000 }] }, /guest port 70000/],
  ])('rejects a bad %s', (_l, net, message) => {
    expect(() => buildPasstArgs(net, 3)).toThrow(message);
  });
});

describe('passtResolver', () => {
  it.each([
    ['a plain resolv.conf: passt reads it', 'nameserver 192.0.2.1\n', '', null],
    ['loopback before a real one: passt skips the loopback', 'nameserver 127.0.0.1\nnameserver 192.0.2.1\n', '', null],
    ['systemd-resolved stub: its upstream', 'nameserver 127.0.0.53\n', 'nameserver 198.51.100.7\n', '198.51.100.7'],
    ['stub without upstream: the stub itself', 'nameserver 127.0.0.53\n', '', '127.0.0.53'],
    ['nothing at all', '', '', null],
  ])('%s', (_l, etc, resolved, expected) => {
    expect(passtResolver(etc, resolved)).toBe(expected);
  });
});

describe('tcpListening', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:5606 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 123 1',
    '   1: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 124 1',
    '   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 125 1',
  ].join('\n');
  it.each([
    ['127.0.0.1:22022 listening', 22022, true],
    ['127.0.0.1:8080 only connected', 8080, false],
    ['0.0.0.0:22 is not loopback', 22, false],
    ['absent', 9999, false],
  ])('%s', (_l, port, expected) => {
    expect(tcpListening(table, port)).toBe(expected);
  });
});
