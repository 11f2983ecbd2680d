/**
 * The real bangerd-root, started as root inside a network namespace this file creates, called by a
 * temporary non-root owner and a third user (both created here and removed afterwards) through the
 * real client: what the owner asks for appears in the namespace (bridge, a tap owned by the owner,
 * NAT rules tagged with the install id), anyone else is refused, and values outside the helper's
 * rules are refused naming the value. A kill -9 and restart of the helper loses nothing.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { helperRig, type CallOutcome, type HelperRig } from '../../test/rootd.fixture.js';
import { loadPeerCred } from './peercred.js';
import { bridgeCheck } from '../network/privilege.js';

const root = process.getuid?.() === 0;
let rig: HelperRig;
beforeAll(async () => {
  if (!root) return;
  rig = await helperRig();
  await rig.start();
}, 120_000);
afterAll(async () => {
  await rig?.destroy();
});

const VM = '0123456789ab';
const TAP = `bgr${VM}`;
const ok = (o: CallOutcome) => {
  if ('error' in o) throw new Error(`${o.error.code}: ${o.error.message}`);
  return o.result;
};
const err = (o: CallOutcome) => ('error' in o ? `${o.error.code}: ${o.error.message}` : `accepted: ${JSON.stringify(o.result)}`);
const tagged = async () => {
  const nat = await rig.inNs(['iptables', '-w', '-t', 'nat', '-S', 'POSTROUTING']);
  const fwd = await rig.inNs(['iptables', '-w', '-S', 'FORWARD']);
  return `${nat}${fwd}`.split('\n').filter((l) => l.includes('banger:'));
};

describe.skipIf(!root)('bangerd-root in a private namespace, called by a temporary owner', () => {
  it('serves the owner: bridge, a tap the owner owns, NAT rules tagged with the install id', async () => {
    const st = ok(await rig.call(rig.owner, 'helper.status')) as { installId: string; ownerUid: number; cidr: string };
    expect(st).toMatchObject({ installId: '0badcafe', ownerUid: rig.owner.uid, cidr: '172.30.7.0/24' });
    // The socket belongs to the owner, 0600; the tun device is now usable by the owner.
    const s = statSync(rig.socket);
    expect([s.uid, s.mode & 0o777]).toEqual([rig.owner.uid, 0o600]);
    expect(statSync('/dev/net/tun').mode & 0o006).toBe(0o006);

    ok(await rig.call(rig.owner, 'bridge.ensure', { bridge: 'br-rd', gatewayCidr: '172.30.7.1/24' }));
    expect(ok(await rig.call(rig.owner, 'tap.ensure', { vmId: VM, bridge: 'br-rd' }))).toEqual({ tap: TAP });
    // With the guest's address and MAC: the tap is bound to them (guard chain) and an isolated port.
    expect(ok(await rig.call(rig.owner, 'tap.ensure', { vmId: VM, bridge: 'br-rd', ip: '172.30.7.9', mac: '52:54:00:00:00:09' }))).toEqual({ tap: TAP });
    expect(await rig.inNs(['ebtables', '-t', 'filter', '-L'])).toContain(`-i ${TAP} -j banger-0badcafe-${VM}`);
    expect(await rig.inNs(['bridge', '-d', 'link', 'show', 'dev', TAP])).toMatch(/isolated on/);
    ok(await rig.call(rig.owner, 'forwarding.enable'));
    ok(await rig.call(rig.owner, 'nat.ensure', { vmId: VM, ip: '172.30.7.9', bridge: 'br-rd' }));
    ok(await rig.call(rig.owner, 'nat.ensure', { vmId: VM, ip: '172.30.7.9', bridge: 'br-rd' })); // idempotent

    expect(await rig.inNs(['ip', '-o', 'link', 'show', 'br-rd'])).toContain('alias banger-managed:0badcafe');
    const tap = await rig.inNs(['ip', '-d', 'link', 'show', TAP]);
    expect(tap).toContain('master br-rd');
    expect(tap).toMatch(new RegExp(`persist on user ${rig.owner.name} group ${rig.owner.name}`));
    expect(await tagged()).toEqual([
      `-A POSTROUTING -s 172.30.7.9/32 ! -o br-rd -m comment --comment "banger:0badcafe:${VM}" -j MASQUERADE`,
      `-A FORWARD -d 172.30.7.9/32 -o br-rd -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "banger:0badcafe:${VM}" -j ACCEPT`,
      `-A FORWARD -s 172.30.7.9/32 -i br-rd -m comment --comment "banger:0badcafe:${VM}" -j ACCEPT`,
    ]);
    expect((await rig.inNs(['cat', '/proc/sys/net/ipv4/ip_forward'])).trim()).toBe('1');
    expect(ok(await rig.call(rig.owner, 'tap.list'))).toEqual({ taps: [TAP] });
    expect((ok(await rig.call(rig.owner, 'rules.list')) as { rules: unknown[] }).rules).toHaveLength(3);
    // A tap of the same VM left by someone else (root, unowned) is replaced by one the owner owns.
    const other = 'bbbbbbbbbbbb';
    await rig.inNs(['ip', 'tuntap', 'add', 'dev', `bgr${other}`, 'mode', 'tap']);
    ok(await rig.call(rig.owner, 'tap.ensure', { vmId: other, bridge: 'br-rd' }));
    expect((await rig.inNs(['cat', `/sys/class/net/bgr${other}/owner`])).trim()).toBe(String(rig.owner.uid));
    ok(await rig.call(rig.owner, 'tap.remove', { tap: `bgr${other}` }));
    // Nothing reached the host's own namespace.
    expect((await run(['ip', 'link', 'show', 'br-rd'], { check: false })).code).not.toBe(0);
  });

  it('refuses a third uid (and logs it), and root is served', async () => {
    // The socket is 0600 owner: another user cannot even connect...
    expect(err(await rig.call(rig.other, 'tap.list'))).toMatch(/unavailable: cannot reach bangerd-root .*permission denied/);
    // ...and with the file mode opened up, SO_PEERCRED still turns it away.
    await run(['chmod', '0666', rig.socket]);
    try {
      expect(err(await rig.call(rig.other, 'tap.remove', { tap: TAP }))).toBe(`unavailable: uid ${rig.other.uid} may not use bangerd-root: only root and the install's owner (uid ${rig.owner.uid}) may`);
      expect(err(await rig.call(rig.other, 'helper.status'))).toMatch(/may not use bangerd-root/);
    } finally {
      await run(['chmod', '0600', rig.socket]);
    }
    expect(rig.log()).toContain(`"uid":${rig.other.uid},"msg":"refused a connection`);
    expect(await rig.inNs(['ip', '-o', 'link', 'show', TAP])).toContain(TAP); // untouched
    expect(ok(await rig.call('root', 'tap.list'))).toEqual({ taps: [TAP] });
  });

  it('refuses non-banger interfaces, foreign bridges, addresses outside its CIDR and malformed values, naming them', async () => {
    await rig.inNs(['ip', 'link', 'add', 'br-user', 'type', 'bridge']);
    await rig.inNs(['ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1']);
    expect(await rig.inNs(['ip', '-o', 'link', 'show', 'veth0'])).toContain('veth0');
    const cases: Array<[string, unknown, RegExp]> = [
      ['tap.remove', { tap: 'veth0' }, /bad_request: "veth0" is not a banger tap/],
      ['tap.remove', { tap: 'lo' }, /bad_request: "lo" is not a banger tap/],
      ['bridge.ensure', { bridge: 'br-user', gatewayCidr: '172.30.7.1/24' }, /bad_request: bridge br-user exists and was not created by this banger install/],
      ['bridge.ensure', { bridge: 'veth0', gatewayCidr: '172.30.7.1/24' }, /bad_request: bridge veth0 exists and was not created by this banger install/],
      ['bridge.ensure', { bridge: 'br-new', gatewayCidr: '10.0.0.1/24' }, /bad_request: bridge address 10\.0\.0\.1\/24 is not 172\.30\.7\.1\/24/],
      ['bridge.ensure', { bridge: TAP, gatewayCidr: '172.30.7.1/24' }, /bad_request: bridge name bgr0123456789ab is a banger tap name/],
      ['bridge.removeIfIdle', { bridge: 'br-user' }, /^accepted: {"removed":false}$/],
      ['tap.ensure', { vmId: 'aaaaaaaaaaaa', bridge: 'br-user' }, /bad_request: bridge br-user was not created by this banger install/],
      ['tap.ensure', { vmId: '../../etc', bridge: 'br-rd' }, /bad_request: tap\.ensure: vmId: a banger VM id/],
      ['tap.ensure', { vmId: VM, bridge: 'br-rd', ip: '172.30.7.9' }, /bad_request: tap\.ensure takes ip and mac together/],
      ['tap.ensure', { vmId: VM, bridge: 'br-rd', ip: '10.1.2.3', mac: '52:54:00:00:00:09' }, /bad_request: address 10\.1\.2\.3 is not a guest address/],
      ['tap.ensure', { vmId: VM, bridge: 'br-rd', ip: '172.30.7.9', mac: '-j ACCEPT' }, /bad_request: MAC address "-j ACCEPT"/],
      ['nat.ensure', { vmId: VM, ip: '10.1.2.3', bridge: 'br-rd' }, /bad_request: address 10\.1\.2\.3 is not a guest address of 172\.30\.7\.0\/24/],
      ['nat.ensure', { vmId: VM, ip: '172.30.7.1', bridge: 'br-rd' }, /bad_request: address 172\.30\.7\.1 is not a guest address/],
      ['nat.ensure', { vmId: VM, ip: '172.30.7.9', bridge: 'br-user' }, /bad_request: bridge br-user was not created by this banger install/],
      ['nat.ensure', { vmId: VM, ip: '172.30.7.9', bridge: 'br-rd', spec: ['-j', 'ACCEPT'] }, /bad_request: nat\.ensure: Unrecognized key/],
      ['resolver.wire', { host: '10.0.0.1', port: 53 }, /bad_request: resolver address 10\.0\.0\.1 is not a loopback address/],
      ['iptables.run', { args: ['-F'] }, /bad_request: unknown method iptables\.run/],
    ];
    for (const [method, params, want] of cases) expect(`${method} → ${err(await rig.call(rig.owner, method, params))}`).toMatch(new RegExp(`^${method.replace('.', '\\.')} → ${want.source.replace(/^\^/, '')}`));
    // A valid resolver request reaches the real drop-in writer as root (this host has no systemd-resolved).
    expect(err(await rig.call(rig.owner, 'resolver.wire', { host: '127.0.0.1', port: 42069 }))).toMatch(/^unavailable: this host does not use systemd-resolved/);
    expect(ok(await rig.call(rig.owner, 'resolver.unwire'))).toEqual({ path: '/etc/systemd/resolved.conf.d/banger.conf', changed: false });
    expect(await rig.inNs(['ip', '-o', 'link', 'show'])).not.toContain('br-new');
    expect(await rig.inNs(['ip', '-o', 'link', 'show', 'br-user'])).toContain('br-user');
    expect(await rig.inNs(['ip', '-o', 'link', 'show', 'veth0'])).toContain('veth0');
    // A rule of another install (another id) is invisible and never removed.
    await rig.inNs(['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '172.30.7.50/32', '-m', 'comment', '--comment', `banger:11111111:${VM}`, '-j', 'MASQUERADE']);
    expect((ok(await rig.call(rig.owner, 'rules.list')) as { rules: Array<{ installId: string }> }).rules.every((r) => r.installId === '0badcafe')).toBe(true);
    await rig.inNs(['ip', 'link', 'del', 'br-user']);
    await rig.inNs(['ip', 'link', 'del', 'veth0']); // its peer goes with it
  });

  it('keeps working across a kill -9 and restart of the helper, then removes exactly what it made', async () => {
    const before = rig.helper().pid;
    await rig.kill9();
    expect(err(await rig.call(rig.owner, 'tap.list'))).toMatch(/unavailable: cannot reach bangerd-root/);
    const access = { via: 'helper' as const, helperSocket: rig.socket, cannotBridge: () => null, resolver: null as never };
    expect(await bridgeCheck(access)).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/cannot reach bangerd-root/), fix: expect.stringMatching(/sudo banger system restart/) });
    await rig.start();
    expect(await bridgeCheck(access)).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/^bangerd-root \S+ \(pid \d+\) answers on .*; install 0badcafe, guests in 172\.30\.7\.0\/24$/) });
    expect(rig.helper().pid).not.toBe(before);
    expect(ok(await rig.call(rig.owner, 'tap.list'))).toEqual({ taps: [TAP] });
    ok(await rig.call(rig.owner, 'tap.ensure', { vmId: VM, bridge: 'br-rd' })); // the bridge is still recognised as ours

    ok(await rig.call(rig.owner, 'nat.remove', { vmId: VM }));
    expect(await tagged()).toEqual([`-A POSTROUTING -s 172.30.7.50/32 -m comment --comment "banger:11111111:${VM}" -j MASQUERADE`]);
    expect(ok(await rig.call(rig.owner, 'bridge.removeIfIdle', { bridge: 'br-rd' }))).toEqual({ removed: false }); // tap attached
    ok(await rig.call(rig.owner, 'tap.remove', { tap: TAP }));
    expect(ok(await rig.call(rig.owner, 'bridge.removeIfIdle', { bridge: 'br-rd' }))).toEqual({ removed: true });
    expect((await rig.inNs(['ip', '-o', 'link', 'show'])).trim().split('\n')).toHaveLength(1); // lo only
  });

  it('runs the jailer (a stand-in at that seam: no firecracker here) as root with the owner ids, only from root-owned binaries', async () => {
    // Stand-ins, root-owned and not writable by the owner; the jailer prints its uid and argv to the console log.
    const bin = join(rig.dir, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    writeFileSync(join(bin, 'jailer'), '#!/bin/sh\necho "uid=$(id -u) args=$*"\n', { mode: 0o755 });
    copyFileSync('/bin/true', join(bin, 'firecracker'));
    const base = join(rig.dir, 'jailer');
    const home = join(rig.dir, 'home');
    mkdirSync(base, { recursive: true, mode: 0o755 });
    mkdirSync(home, { mode: 0o755 });
    await run(['chown', `${rig.owner.uid}:${rig.owner.gid}`, base, home]);
    const serialLog = join(home, 'serial.log');
    await run(['runuser', '-u', rig.owner.name, '--', 'touch', serialLog]);
    const spawn = { vmId: VM, jailerBin: join(bin, 'jailer'), firecrackerBin: join(bin, 'firecracker'), chrootBase: base, apiSock: '/run/firecracker.socket', serialLog };

    const r = ok(await rig.call(rig.owner, 'jailer.spawn', spawn)) as { pid: number; argv: string[] };
    const want = `--id ${VM} --exec-file ${bin}/firecracker --uid ${rig.owner.uid} --gid ${rig.owner.gid} --chroot-base-dir ${base} -- --api-sock /run/firecracker.socket`;
    expect(r.argv.join(' ')).toBe(`${bin}/jailer ${want}`);
    let text = '';
    for (let i = 0; i < 50 && !text; i++) {
      text = readFileSync(serialLog, 'utf8');
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(text.trim()).toBe(`uid=0 args=${want}`);

    // The owner's own copy of a jailer, a chroot outside the base, a log that is a symlink or root's file: refused.
    const mine = join(home, 'jailer');
    copyFileSync(join(bin, 'jailer'), mine);
    await run(['chown', String(rig.owner.uid), mine]);
    symlinkSync('/etc/hostname', join(home, 'evil.log'));
    const cases: Array<[object, RegExp]> = [
      [{ jailerBin: mine }, new RegExp(`bad_request: bangerd-root runs only root-owned binaries nobody else can change: ${mine} is owned by uid ${rig.owner.uid}`)],
      [{ jailerBin: join(bin, 'nope') }, /jailer .*\/bin\/nope does not exist/],
      [{ chrootBase: '/' }, /bad_request: jailer chroot base \/ is not inside/],
      [{ serialLog: join(home, 'evil.log') }, /bad_request: cannot open the console log .*evil\.log: ELOOP; it must be an existing file of the owner's, not a symlink/],
      [{ serialLog: join(rig.dir, 'helper.log') }, /bad_request: console log .*helper\.log: owned by uid 0, not the owner/],
      [{ vmId: '../etc' }, /bad_request: jailer\.spawn: vmId: a banger VM id/],
    ];
    for (const [p, w] of cases) expect(err(await rig.call(rig.owner, 'jailer.spawn', { ...spawn, ...p }))).toMatch(w);
    // A symlink planted where the jailer would write as root.
    mkdirSync(join(base, 'firecracker'), { recursive: true });
    symlinkSync('/etc', join(base, 'firecracker', 'aaaaaaaaaaaa'));
    expect(err(await rig.call(rig.owner, 'jailer.spawn', { ...spawn, vmId: 'aaaaaaaaaaaa' }))).toMatch(/bad_request: jail directory .*\/firecracker\/aaaaaaaaaaaa is a symlink/);
    rmSync(join(base, 'firecracker', 'aaaaaaaaaaaa'));
    expect(readFileSync('/etc/hostname', 'utf8')).not.toContain('uid=');

    // clean: the per-VM jail (with the root-made files in it) goes; nothing outside the base.
    mkdirSync(join(base, 'firecracker', VM, 'root', 'dev'), { recursive: true });
    ok(await rig.call(rig.owner, 'jailer.clean', { vmId: VM, firecrackerBin: join(bin, 'firecracker'), chrootBase: base }));
    expect(existsSync(join(base, 'firecracker', VM))).toBe(false);
    expect(err(await rig.call(rig.owner, 'jailer.clean', { vmId: VM, firecrackerBin: '/x/firecracker', chrootBase: '/etc' }))).toMatch(/not inside/);
  });

  it('refuses to start unless root or without settings; its peer-credential check fails closed', async () => {
    expect(() => loadPeerCred('./no-such-addon.node')).toThrow(/cannot load the SO_PEERCRED addon [^]*node scripts\/build\.mjs/);
    const r = await run(['runuser', '-u', rig.owner.name, '--', process.execPath, 'bin/bangerd-root', '--socket', '/tmp/x.sock', '--owner-uid', '5', '--owner-gid', '5', '--install-id', '12345678'], { check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bangerd-root must run as root/);
    const help = await run([process.execPath, 'bin/bangerd-root', '--help']);
    for (const flag of ['--socket PATH', '--owner-uid N', '--owner-gid N', '--install-id HEX', '--cidr CIDR', '--jailer-base DIR']) expect(help.stdout).toContain(flag);
    const bad = await run([process.execPath, 'bin/bangerd-root', '--owner-uid', '5'], { check: false, env: { ...process.env, BANGER_SYSTEM_ROOT: rig.dir } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no install record and no --owner-gid, --install-id, --socket: run `sudo banger system install`/);
  });
});
