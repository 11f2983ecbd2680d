/** bangerd-root's pure rules, from tables: value checks, jailer binaries and argv, settings, admitted callers, finding the helper. */
import { describe, expect, it } from 'vitest';
import { bridgeCheck, helperSocketFor, localInstallId } from '../network/privilege.js';
import type { InstallRecord } from '../system/record.js';
import { planJailerSpawn, serialLogProblem, type JailerFacts } from './jailer.js';
import { DEFAULT_CIDR, resolveHelperConfig } from './main.js';
import { admitPeer } from './peercred.js';
import { canReadWrite } from './tun.js';
import { binaryProblems, checkBridgeName, checkChrootBase, checkGateway, checkGuestIp, checkResolverHost, checkTap, within, type PathFacts } from './validate.js';

const refused = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
  return 'accepted';
};

describe('value checks', () => {
  it.each([
    ['172.30.0.5', 'accepted'],
    ['172.30.0.254', 'accepted'],
    ['172.30.0.1', /bad_request: address 172\.30\.0\.1 is not a guest address of 172\.30\.0\.0\/24/], // the gateway
    ['172.30.0.255', /not a guest address/],
    ['10.0.0.5', /address 10\.0\.0\.5 is not a guest address/],
    ['172.30.0.300', /bad_request: "172\.30\.0\.300" is not an IPv4 address/],
  ])('guest ip %s', (ip, want) => expect(refused(() => checkGuestIp('172.30.0.0/24', ip))).toMatch(want));

  it.each([
    ['172.30.0.1/24', 'accepted'],
    ['172.30.0.1/16', /bridge address 172\.30\.0\.1\/16 is not 172\.30\.0\.1\/24/],
    ['172.30.0.9/24', /is not 172\.30\.0\.1\/24/],
    ['10.0.0.1/24', /is not 172\.30\.0\.1\/24/],
  ])('gateway %s', (g, want) => expect(refused(() => checkGateway('172.30.0.0/24', g))).toMatch(want));

  it.each([
    ['bgr0123456789ab', 'accepted'],
    ['eth0', /"eth0" is not a banger tap/],
    ['lo', /not a banger tap/],
    ['bgr0123456789abc', /not a banger tap/],
    ['bgr-x', /not a banger tap/],
  ])('tap %s', (t, want) => expect(refused(() => checkTap(t))).toMatch(want));

  it.each([
    ['br-banger', 'accepted'],
    ['bgr0123456789ab', /is a banger tap name/],
    ['lo', /cannot be the bridge/],
  ])('bridge %s', (b, want) => expect(refused(() => checkBridgeName(b))).toMatch(want));

  it.each([
    ['127.0.0.1', 'accepted'],
    ['127.0.0.53', 'accepted'],
    ['10.0.0.1', /resolver address 10\.0\.0\.1 is not a loopback address/],
    ['0.0.0.0', /not a loopback/],
  ])('resolver %s', (h, want) => expect(refused(() => checkResolverHost(h))).toMatch(want));

  it.each([
    ['/srv/jailer', '/srv/jailer', true],
    ['/srv/jailer', '/srv/jailer/a', true],
    ['/srv/jailer', '/srv/jailer/../etc', false],
    ['/srv/jailer', '/srv/jailerx', false],
    ['/srv/jailer', '/etc', false],
    ['/srv/jailer', 'srv/jailer', false],
    ['/srv/jailer', '/srv/jailer/./a', false],
  ])('within(%s, %s) = %s', (base, p, want) => expect(within(base, p)).toBe(want));

  it('chroot base outside the helper base is refused, naming both', () => {
    expect(refused(() => checkChrootBase('/home/u/.local/state/banger/jailer', '/'))).toMatch(/jailer chroot base \/ is not inside \/home\/u\/\.local\/state\/banger\/jailer/);
  });
});

const f = (path: string, o: Partial<PathFacts> = {}): PathFacts => ({ path, exists: true, uid: 0, gid: 0, mode: 0o755, isFile: false, isDir: true, ...o });
const chainFor = (bin: string, o: Partial<PathFacts> = {}, parent: Partial<PathFacts> = {}): PathFacts[] => [
  f(bin, { isFile: true, isDir: false, ...o }),
  f('/usr/bin', parent),
  f('/usr'),
  f('/'),
];

describe('jailer binaries', () => {
  it.each([
    ['root-owned 0755', chainFor('/usr/bin/jailer'), []],
    ['owned by the user', chainFor('/usr/bin/jailer', { uid: 1000 }), ['/usr/bin/jailer is owned by uid 1000, not root']],
    ['world-writable', chainFor('/usr/bin/jailer', { mode: 0o757 }), ['/usr/bin/jailer is writable by everyone']],
    ['group-writable by the owner group', chainFor('/usr/bin/jailer', { mode: 0o775, gid: 1000 }), ['/usr/bin/jailer is group-writable (gid 1000)']],
    ['parent owned by the user', chainFor('/usr/bin/jailer', {}, { uid: 1000 }), ['/usr/bin is owned by uid 1000, not root']],
    ['sticky world-writable parent (/tmp)', chainFor('/usr/bin/jailer', {}, { mode: 0o1777 }), []],
    ['sticky parent (the owner may write there, not replace entries of root)', chainFor('/usr/bin/jailer', {}, { mode: 0o1777 }), []],
    ['group-writable by gid 0 only (the root group)', chainFor('/usr/bin/jailer', { mode: 0o775 }), []],
    ['missing', [f('/nope', { exists: false })], ['jailer /nope does not exist']],
    ['a directory', chainFor('/usr/bin/jailer', { isFile: false, isDir: true }), ['jailer /usr/bin/jailer is not a regular file']],
  ])('%s', (_n, chain, want) => expect(binaryProblems('jailer', chain, 1000)).toEqual(want));

  const policy = { ownerUid: 1000, ownerGid: 1000, jailerBase: '/home/u/state/jailer' };
  const facts: JailerFacts = {
    jailerReal: '/usr/bin/jailer',
    firecrackerReal: '/usr/bin/firecracker',
    jailerChain: chainFor('/usr/bin/jailer'),
    firecrackerChain: chainFor('/usr/bin/firecracker'),
    chrootReal: '/home/u/state/jailer',
    jailDirs: [{ path: '/home/u/state/jailer/firecracker', kind: 'dir' }],
  };
  const params = { serialLog: '/home/u/state/vms/x/serial.log', vmId: '0123456789ab', jailerBin: '/usr/bin/jailer', firecrackerBin: '/usr/bin/firecracker', chrootBase: '/home/u/state/jailer', apiSock: '/run/firecracker.socket' as const };

  it.each([
    [{ isFile: true, uid: 1000, nlink: 1 }, null],
    [{ isFile: false, uid: 1000, nlink: 1 }, 'not a regular file'],
    [{ isFile: true, uid: 0, nlink: 1 }, 'owned by uid 0, not the owner (uid 1000)'],
    [{ isFile: true, uid: 1000, nlink: 2 }, 'has 2 hard links'],
  ])('console log %j → %s', (f, want) => expect(serialLogProblem(f, 1000)).toBe(want));

  it('builds the argv with the uid/gid from the policy, never from the caller', () => {
    expect(planJailerSpawn(policy, { ...params, netns: 'bt-ns' }, facts)).toEqual({
      argv: ['/usr/bin/jailer', '--id', '0123456789ab', '--exec-file', '/usr/bin/firecracker', '--uid', '1000', '--gid', '1000', '--chroot-base-dir', '/home/u/state/jailer', '--netns', '/var/run/netns/bt-ns', '--', '--api-sock', '/run/firecracker.socket'],
      vmDir: '/home/u/state/jailer/firecracker/0123456789ab',
    });
  });

  it.each([
    ['a chroot base outside the helper base', { chrootBase: '/srv' }, {}, /chroot base \/srv is not inside/],
    ['a chroot base through a symlink', {}, { chrootReal: '/etc' }, /resolves to \/etc; give its real path/],
    ['a jail directory that is a symlink', {}, { jailDirs: [{ path: '/home/u/state/jailer/firecracker', kind: 'symlink' as const }] }, /jail directory \/home\/u\/state\/jailer\/firecracker is a symlink; remove it/],
    ['a jail root that is a file', {}, { jailDirs: [{ path: '/home/u/state/jailer/firecracker/0123456789ab/root', kind: 'other' as const }] }, /is a non-directory/],
    ['a user-owned firecracker', {}, { firecrackerChain: chainFor('/usr/bin/firecracker', { uid: 1000 }) }, /only root-owned binaries.*\/usr\/bin\/firecracker is owned by uid 1000/],
    ['a binary not named firecracker', {}, { firecrackerReal: '/usr/bin/sh', firecrackerChain: chainFor('/usr/bin/sh') }, /file name contains "firecracker"/],
  ])('refuses %s', (_n, p, fx, want) => {
    expect(refused(() => planJailerSpawn(policy, { ...params, ...p }, { ...facts, ...fx }))).toMatch(want);
  });
});

const record: InstallRecord = {
  version: 1,
  installId: '0badcafe',
  owner: 'dev',
  uid: 1000,
  gid: 1000,
  home: '/home/dev',
  stateDir: '/home/dev/.local/state/banger',
  daemonSocket: '/run/banger/bangerd.sock',
  helperSocket: '/run/banger-root/helper.sock',
  files: [],
  installedAt: '2026-12-01T00:00:00Z',
};

describe('helper settings', () => {
  it('comes from the record, each flag overriding', () => {
    expect(resolveHelperConfig({}, record, '1')).toEqual({
      version: '1',
      ownerUid: 1000,
      ownerGid: 1000,
      installId: '0badcafe',
      socket: '/run/banger-root/helper.sock',
      cidr: DEFAULT_CIDR,
      jailerBase: '/home/dev/.local/state/banger/jailer',
    });
    expect(resolveHelperConfig({ socket: '/tmp/h.sock', ownerUid: '2000', ownerGid: '2001', installId: '12345678', cidr: '10.9.0.0/24', jailerBase: '/srv/j' }, null, '1')).toEqual({
      version: '1',
      ownerUid: 2000,
      ownerGid: 2001,
      installId: '12345678',
      socket: '/tmp/h.sock',
      cidr: '10.9.0.0/24',
      jailerBase: '/srv/j',
    });
  });

  it.each([
    [{}, /no install record and no --owner-uid, --owner-gid, --install-id, --socket: run `sudo banger system install`/],
    [{ socket: '/s', ownerUid: '0', ownerGid: '0', installId: '12345678' }, /--owner-uid must not be 0/],
    [{ socket: '/s', ownerUid: 'x', ownerGid: '0', installId: '12345678' }, /--owner-uid must be a number/],
    [{ socket: '/s', ownerUid: '5', ownerGid: '5', installId: 'XYZ' }, /--install-id "XYZ" must be 8 lowercase hex digits/],
    [{ socket: 'rel', ownerUid: '5', ownerGid: '5', installId: '12345678' }, /--socket rel must be an absolute path/],
    [{ socket: '/s', ownerUid: '5', ownerGid: '5', installId: '12345678', cidr: '10.0.0.0/8' }, /CIDR "10\.0\.0\.0\/8" must look like/],
  ])('refuses %j', (flags, want) => expect(refused(() => resolveHelperConfig(flags, null, '1'))).toMatch(want));
});

describe('callers and devices', () => {
  it.each([
    [0, null],
    [1000, null],
    [1001, 'uid 1001 may not use bangerd-root: only root and the install\'s owner (uid 1000) may'],
    [65534, /uid 65534 may not/],
  ])('peer uid %s', (uid, want) => {
    const got = admitPeer(uid, 1000);
    if (want === null || typeof want === 'string') expect(got).toBe(want);
    else expect(got).toMatch(want);
  });

  it.each([
    [{ uid: 0, gid: 0, mode: 0o600 }, 1000, false],
    [{ uid: 0, gid: 0, mode: 0o666 }, 1000, true],
    [{ uid: 0, gid: 1000, mode: 0o660 }, 1000, true],
    [{ uid: 1000, gid: 0, mode: 0o600 }, 1000, true],
    [{ uid: 0, gid: 0, mode: 0o600 }, 0, true],
  ])('tun %j for uid %s → %s', (file, uid, want) => expect(canReadWrite(file, uid, uid)).toBe(want));
});

describe('finding the helper', () => {
  it.each([
    [{ BANGER_HELPER_SOCKET: '/tmp/h.sock' }, 1000, record, '/tmp/h.sock'],
    [{ BANGER_HELPER_SOCKET: '/tmp/h.sock' }, 1000, null, '/tmp/h.sock'],
    [{}, 1000, record, '/run/banger-root/helper.sock'],
    [{}, 1001, record, null], // someone else's install
    [{}, 1000, null, null],
  ])('env %j uid %s → %s', (env, uid, rec, want) => expect(helperSocketFor(env, uid, rec)).toBe(want));

  it("tags with the record's install id for its owner, else one derived from the state dir", () => {
    expect(localInstallId(1000, record, '/x')).toBe('0badcafe');
    expect(localInstallId(0, record, '/x')).toMatch(/^[0-9a-f]{8}$/);
    expect(localInstallId(0, null, '/x')).toBe(localInstallId(0, null, '/x'));
    expect(localInstallId(0, null, '/x')).not.toBe(localInstallId(0, null, '/y'));
  });
});

describe('doctor: bridge networking', () => {
  it.each([
    ['root', { verdict: 'pass', detail: expect.stringMatching(/in-process/) }],
    ['none', { verdict: 'warn', fix: 'run `sudo banger system install`' }],
  ] as const)('via %s', async (via, want) => {
    expect(await bridgeCheck({ via, helperSocket: null, cannotBridge: () => null, resolver: null as never })).toMatchObject(want);
  });
});
