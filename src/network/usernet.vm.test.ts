/**
 * User-mode networking on a real guest (egress off), through the real CLI and daemon: `.vm` DNS on
 * 127.0.0.1, ssh-config with plain OpenSSH, `vm ports`, and `vm forward` across a daemon kill and a
 * VM restart. All traffic goes to 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { freshInstall, REPO, type Install } from '../../test/install.fixture.js';
import { queryA } from './dns-query.js';
import { INCLUDE_BEGIN } from './sshconfig.js';
import { freePort } from './ports.js';

let inst: Install;
let dnsPort: number;
const home = mkdtempSync(join(tmpdir(), 'bt-home-'));
beforeAll(async () => {
  inst = await freshInstall();
  // Its own DNS port (the default 42069 is shared by every install on this host).
  dnsPort = await freePort();
  mkdirSync(join(inst.root, 'config', 'banger'), { recursive: true });
  writeFileSync(join(inst.root, 'config', 'banger', 'config.toml'), `[network]\ndns_port = ${dnsPort}\n`);
  await inst.cli(['daemon', 'stop']);
  await new Promise((r) => setTimeout(r, 300));
  const r = await inst.cli(['daemon', 'status']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
  rmSync(home, { recursive: true, force: true });
});

const dnsAt = () => ({ host: '127.0.0.1', port: dnsPort });
const json = <T>(s: string): T => JSON.parse(s) as T;
const cli = (args: string[]) => inst.cli(args);
const httpGet = (port: number) =>
  new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
// A tiny HTTP server in the guest (perl-base is in every Debian image), detached from the exec session.
const HTTPD = `perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){<$c>; print $c "HTTP/1.0 200 OK\\r\\nContent-Length: 8\\r\\n\\r\\nfrom-vm\\n"; close $c}'`;
const startHttpd = () => cli(['vm', 'exec', 'netu', '--', 'sh', '-c', `setsid ${HTTPD} </dev/null >/dev/null 2>&1 &`]);

interface Ports {
  ports: Array<{ port: number; process: string | null; endpoint: string | null; url: string | null }>;
}
interface Forwards {
  forwards: Array<{ guestPort: number; hostPort: number | null; active: boolean }>;
}

describe('user-mode networking on a real guest', () => {
  it('names, ssh-config, ports and forwards', async () => {
    const create = await cli(['vm', 'create', '--name', 'netu', '--no-egress']);
    expect(create.code).toBe(0);
    const vm = json<{ ssh: { port: number }; network: { egress: boolean } }>((await cli(['vm', 'show', 'netu'])).stdout);
    expect(vm.network.egress).toBe(false);

    // DNS: the name resolves to 127.0.0.1 (user mode); unknown names are NXDOMAIN.
    expect(await queryA(dnsAt(), 'netu.vm')).toEqual({ rcode: 'NOERROR', authoritative: true, addresses: ['127.0.0.1'] });
    expect((await queryA(dnsAt(), 'ghost.vm')).rcode).toBe('NXDOMAIN');
    const status = json<{ listening: boolean; port: number; records: unknown[] }>((await cli(['dns', 'status', '--json'])).stdout);
    expect(status).toMatchObject({ listening: true, port: dnsPort, records: [{ name: 'netu.vm', address: '127.0.0.1' }] });
    // This host has no systemd-resolved: install says what to do instead; doctor reports the state.
    const install = await cli(['dns', 'install']);
    expect(install.code).not.toBe(0);
    expect(install.stderr).toMatch(/does not use systemd-resolved/);
    const doctor = json<Array<{ name: string; verdict: string }>>((await cli(['doctor', '--json'])).stdout);
    expect(doctor.find((c) => c.name === 'vm dns')).toMatchObject({ verdict: 'pass' });

    // ssh-config: the Host block names the forwarded port; --install fences an Include into ~/.ssh/config.
    const text = (await cli(['ssh-config'])).stdout;
    expect(text).toContain(`Host netu.vm\n  HostName 127.0.0.1\n  Port ${vm.ssh.port}\n  HostKeyAlias netu.vm\n`);
    const env = { ...inst.env, HOME: home };
    const inHome = (args: string[]) => run([process.execPath, join(REPO, 'bin', 'banger'), ...args], { env, check: false });
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'config'), 'Host example\n  User me\n');
    expect((await inHome(['ssh-config', '--install'])).code).toBe(0);
    expect((await inHome(['ssh-config', '--install'])).stdout).toMatch(/already there/);
    const userCfg = readFileSync(join(home, '.ssh', 'config'), 'utf8');
    expect(userCfg.startsWith(INCLUDE_BEGIN)).toBe(true);
    expect(userCfg.split(INCLUDE_BEGIN)).toHaveLength(2);
    expect(userCfg).toContain('Host example\n  User me\n');
    // Plain OpenSSH through the user's config (ssh reads ~ from the passwd entry, so name the file).
    const ssh = await run(['ssh', '-F', join(home, '.ssh', 'config'), '-o', 'BatchMode=yes', 'netu.vm', 'uname', '-n'], { check: false, timeoutMs: 60_000 });
    expect(ssh.stderr).toBe('');
    expect(ssh.stdout.trim()).toBe('netu');
    expect((await inHome(['ssh-config', '--uninstall'])).code).toBe(0);
    expect(readFileSync(join(home, '.ssh', 'config'), 'utf8')).toBe('Host example\n  User me\n');

    // ports: sshd is reachable at the SSH port; 8080 is listening but not forwarded yet.
    expect((await startHttpd()).code).toBe(0);
    let ports = json<Ports>((await cli(['vm', 'ports', 'netu', '--json'])).stdout);
    expect(ports.ports.find((p) => p.port === 22)).toMatchObject({ process: 'sshd', endpoint: `127.0.0.1:${vm.ssh.port}` });
    await expect.poll(async () => json<Ports>((await cli(['vm', 'ports', 'netu', '--json'])).stdout).ports.find((p) => p.port === 8080), { timeout: 15_000 }).toMatchObject({ process: 'perl', endpoint: null, url: null });
    expect((await cli(['vm', 'ports', 'netu'])).stdout).toMatch(/8080\s+perl\s+- \(banger vm forward netu 8080\)/);

    // forward: a free host port, reachable at once; vm ports shows the http:// link.
    const fwd = await cli(['vm', 'forward', 'netu', '8080', '--json']);
    expect(fwd.code).toBe(0);
    const f1 = json<Forwards>(fwd.stdout).forwards[0];
    expect(f1).toMatchObject({ guestPort: 8080, active: true });
    expect(await httpGet(f1.hostPort!)).toBe('from-vm\n');
    ports = json<Ports>((await cli(['vm', 'ports', 'netu', '--json'])).stdout);
    expect(ports.ports.find((p) => p.port === 8080)).toMatchObject({ endpoint: `127.0.0.1:${f1.hostPort}`, url: `http://127.0.0.1:${f1.hostPort}/` });
    expect(ports.ports.find((p) => p.port === 22)?.url).toBeNull();
    // Adding it again changes nothing.
    expect(json<Forwards>((await cli(['vm', 'forward', 'netu', '8080', '--json'])).stdout).forwards).toEqual([f1]);

    // kill -9 the daemon: the forward keeps working and the next daemon still knows it; names are rebuilt.
    const pid = Number(readFileSync(join(inst.runtimeDir, 'bangerd.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(json<Forwards>((await cli(['vm', 'forward', 'netu', '--json'])).stdout).forwards).toEqual([f1]);
    expect((await queryA(dnsAt(), 'netu.vm')).addresses).toEqual(['127.0.0.1']);
    expect(await httpGet(f1.hostPort!)).toBe('from-vm\n');

    // --rm: gone from QEMU and from the record.
    expect(json<Forwards>((await cli(['vm', 'forward', 'netu', '8080', '--rm', '--json'])).stdout).forwards).toEqual([]);
    await expect(httpGet(f1.hostPort!)).rejects.toThrow();
    const missing = await cli(['vm', 'forward', 'netu', '8080', '--rm']);
    expect(missing.code).toBe(3);

    // A chosen host port, re-added by the next start.
    const chosen = await freePort();
    expect(json<Forwards>((await cli(['vm', 'forward', 'netu', `8080:${chosen}`, '--json'])).stdout).forwards).toEqual([{ guestPort: 8080, hostPort: chosen, active: true }]);
    expect((await cli(['vm', 'restart', 'netu'])).code).toBe(0);
    expect(json<Forwards>((await cli(['vm', 'forward', 'netu', '--json'])).stdout).forwards).toEqual([{ guestPort: 8080, hostPort: chosen, active: true }]);
    expect((await startHttpd()).code).toBe(0);
    await expect.poll(() => httpGet(chosen).catch(() => ''), { timeout: 15_000 }).toBe('from-vm\n');

    // Delete: the name and the ssh_config entry go.
    expect((await cli(['vm', 'delete', 'netu'])).code).toBe(0);
    expect((await queryA(dnsAt(), 'netu.vm')).rcode).toBe('NXDOMAIN');
    expect((await cli(['ssh-config'])).stdout).not.toContain('netu.vm');
  });

  it('refuses --nat in user mode and forwards of unknown VMs', async () => {
    const nat = await cli(['vm', 'create', '--name', 'nonat', '--nat', '--no-start']);
    expect(nat.code).toBe(2);
    expect(nat.stderr).toMatch(/--nat applies to bridge mode/);
    expect((await cli(['vm', 'forward', 'ghost', '80'])).code).toBe(3);
    const bad = await cli(['vm', 'forward', 'ghost', '80:x']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/GUEST_PORT\[:HOST_PORT\]/);
  });
});
