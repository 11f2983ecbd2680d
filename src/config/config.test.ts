import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { Config, derivedDefaults, parseConfig } from './config.js';
import { formatDuration, parseDuration } from './duration.js';
import { planFileSync } from './filesync.js';

const host = { cores: 2, memoryMib: 24 * 1024, home: '/home/u', jailerChrootBase: '/s/banger/jailer' };

describe('parseConfig', () => {
  it.each([
    ['', 'empty'],
    ['accel = "tcg"\nhypervisor = "qemu"\ncidr = "10.9.0.0/24"\n[vm_defaults]\nsystem_overlay_size = "1G"\n[[file_sync]]\nhost = "~/.gitconfig"\nguest = "~/.gitconfig"\n', 'full'],
  ])('its result is exactly what the Config schema describes (%#: %s)', (text) => {
    expect(Config.strict().parse(parseConfig(text, 'config.toml', host))).toBeTruthy();
  });

  it('gives defaults derived from the host for an empty file', () => {
    const c = parseConfig('', '/x/config.toml', host);
    expect(c.hypervisor).toBe('auto');
    expect(c.accel).toBe('auto');
    expect(c.defaultImageName).toBe('debian-bookworm');
    expect(c.vmDefaults).toEqual(derivedDefaults(host));
    expect(c.vmDefaults.vcpu).toBe(1);
    expect(c.vmDefaults.memoryMib).toBe(2048);
    expect(c.jailer).toEqual({ enabled: true, bin: '/usr/bin/jailer', chrootBaseDir: '/s/banger/jailer' });
    expect(c).toMatchObject({ logLevel: null, autoStopStaleAfterMs: 0, statsPollIntervalMs: 5000, tapPoolSize: 0, fileSync: [], warnings: [] });
  });

  it("reads the original tool's config.toml, every key", () => {
    const c = parseConfig(
      `log_level = "debug"
firecracker_bin = "/opt/fc/firecracker"
jailer_bin = "/opt/fc/jailer"
jailer_enabled = false
jailer_chroot_base = "/var/lib/jail"
ssh_key_path = "/k"
default_image_name = "mine"
auto_stop_stale_after = "1h30m"
stats_poll_interval = "10s"
tap_pool_size = 4
bridge_name = "br-fc"
bridge_ip = "10.20.0.254"
cidr = "10.20.0.0/24"
default_dns = "9.9.9.9"

[vm_defaults]
vcpu = 3
memory_mib = 2048
disk_size = "10G"
system_overlay_size = "2G"

[[file_sync]]
host = "~/.gitconfig"
guest = "~/.gitconfig"
mode = "0644"

[[file_sync]]
host = "/etc/ssl/mine"
guest = "/root/certs"
`,
      '/c.toml',
      host,
    );
    expect(c).toMatchObject({
      logLevel: 'debug',
      firecrackerBin: '/opt/fc/firecracker',
      jailer: { enabled: false, bin: '/opt/fc/jailer', chrootBaseDir: '/var/lib/jail' },
      sshKeyPath: '/k',
      defaultImageName: 'mine',
      autoStopStaleAfterMs: 90 * 60_000,
      statsPollIntervalMs: 10_000,
      tapPoolSize: 4,
    });
    expect(c.network).toEqual({ bridge: 'br-fc', cidr: '10.20.0.0/24', bridgeIp: '10.20.0.254', dnsAddress: '127.0.0.1', dnsPort: 42069, guestDns: '9.9.9.9' });
    expect(c.vmDefaults).toEqual({ vcpu: 3, memoryMib: 2048, diskSizeBytes: 10 * 1024 ** 3, systemOverlaySizeBytes: 2 * 1024 ** 3 });
    expect(c.fileSync).toEqual([
      { index: 0, host: '/home/u/.gitconfig', guest: '/root/.gitconfig', mode: 0o644 },
      { index: 1, host: '/etc/ssl/mine', guest: '/root/certs', mode: 0o600 },
    ]);
    // parsed, validated, but not honoured yet: each says so, naming the key
    expect(c.warnings).toEqual([
      expect.stringMatching(/^\/c.toml: tap_pool_size is not supported yet/),
      expect.stringMatching(/^\/c.toml: vm_defaults.system_overlay_size is not supported yet/),
    ]);
  });

  it('expands ~/ in path keys against the host home', () => {
    const c = parseConfig('ssh_key_path = "~/.ssh/id_ed25519"\nfirecracker_bin = "~/bin/firecracker"\njailer_bin = "jailer"\njailer_chroot_base = "~/jail"\n', 'f', host);
    expect(c).toMatchObject({ sshKeyPath: '/home/u/.ssh/id_ed25519', firecrackerBin: '/home/u/bin/firecracker', jailer: { bin: 'jailer', chrootBaseDir: '/home/u/jail' } });
  });

  it('warns about unknown keys, at any depth, and still parses the rest', () => {
    const c = parseConfig('colour = "red"\nhypervisor = "qemu"\n[network]\nnope = 1\n[vm_defaults]\nbig = true\n[[file_sync]]\nhost = "/a"\nguest = "~/a"\nowner = "me"\n', '/c.toml', host);
    expect(c.hypervisor).toBe('qemu');
    expect(c.warnings).toEqual([
      '/c.toml: unknown key colour is ignored',
      '/c.toml: unknown key network.nope is ignored',
      '/c.toml: unknown key vm_defaults.big is ignored',
      '/c.toml: unknown key file_sync[0].owner is ignored',
    ]);
  });

  it.each([
    ['hypervisor = "vmware"', 'hypervisor'],
    ['log_level = "loud"', 'log_level'],
    ['[vm_defaults]\nvcpu = 0', 'vm_defaults.vcpu'],
    ['[vm_defaults]\ndisk_size = "lots"', 'vm_defaults.disk_size'],
    [`[vm_defaults]\ndisk_size = "${'9'.repeat(400)}"`, 'vm_defaults.disk_size'],
    ['[vm_defaults]\ndisk_size = "99999999999T"', 'vm_defaults.disk_size'],
    ['[vm_defaults]\nsystem_overlay_size = "17T"', 'vm_defaults.system_overlay_size'],
    ['default_image_name = "Bad_Name"', 'default_image_name'],
    ['auto_stop_stale_after = "soon"', 'auto_stop_stale_after'],
    ['auto_stop_stale_after = "9999999999h"', 'auto_stop_stale_after'],
    ['auto_stop_stale_after = 30', 'auto_stop_stale_after'],
    ['stats_poll_interval = "0"', 'stats_poll_interval'],
    ['tap_pool_size = -1', 'tap_pool_size'],
    ['jailer_enabled = "yes"', 'jailer_enabled'],
    ['jailer_chroot_base = "jail"', 'jailer_chroot_base'],
    ['ssh_key_path = "~bob/.ssh/id"', 'ssh_key_path'],
    ['ssh_key_path = "keys/id"', 'ssh_key_path'],
    ['firecracker_bin = "bin/fc"', 'firecracker_bin'],
    ['jailer_bin = ""', 'jailer_bin'],
    ['bridge_ip = "10.0.0.300"', 'bridge_ip'],
    ['bridge_ip = "10.9.0.1"', 'bridge_ip'], // outside the default cidr
    ['cidr = "172.30.0.0/24"\nbridge_ip = "172.30.0.255"', 'bridge_ip'], // broadcast
    ['cidr = "10.0.0.1/24"', 'cidr'],
    ['default_dns = "dns.example"', 'default_dns'],
    ['[[file_sync]]\nhost = "~/x"\nguest = "/etc/x"', 'file_sync[0]'],
  ])('rejects %j naming %s and the file', (text, key) => {
    try {
      parseConfig(text, '/home/u/.config/banger/config.toml', host);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BangerError);
      expect((err as BangerError).code).toBe('bad_request');
      expect((err as BangerError).message).toContain('/home/u/.config/banger/config.toml');
      expect((err as BangerError).message).toContain(key);
      expect((err as BangerError).message.length).toBeLessThan(300); // a 400-digit value is not echoed whole
    }
  });

  it('rejects broken TOML with the file name', () => {
    expect(() => parseConfig('a = = 1', '/c.toml', host)).toThrow(/\/c.toml: not valid TOML/);
  });

  it('derives floors on a small host', () => {
    expect(derivedDefaults({ cores: 1, memoryMib: 1024 })).toEqual({ vcpu: 1, memoryMib: 512, diskSizeBytes: 8 * 1024 ** 3, systemOverlaySizeBytes: null });
  });
});

describe('parseConfig network keys', () => {
  it('defaults: br-banger, 172.30.0.0/24 with the bridge on .1, DNS on 127.0.0.1:42069, guest resolver from the host', () => {
    expect(parseConfig('', 'f', host).network).toEqual({
      bridge: 'br-banger',
      cidr: '172.30.0.0/24',
      bridgeIp: '172.30.0.1',
      dnsAddress: '127.0.0.1',
      dnsPort: 42069,
      guestDns: null,
    });
  });

  it('reads every [network] key', () => {
    const c = parseConfig('[network]\nbridge = "br0"\ncidr = "10.9.0.0/16"\ndns_address = "127.0.0.2"\ndns_port = 5353\nguest_dns = "9.9.9.9"\n', 'f', host);
    expect(c.network).toEqual({ bridge: 'br0', cidr: '10.9.0.0/16', bridgeIp: '10.9.0.1', dnsAddress: '127.0.0.2', dnsPort: 5353, guestDns: '9.9.9.9' });
  });

  it('accepts both spellings when they agree', () => {
    const c = parseConfig('bridge_name = "br0"\ncidr = "10.9.0.0/16"\n[network]\nbridge = "br0"\ncidr = "10.9.0.0/16"\n', 'f', host);
    expect(c.network).toMatchObject({ bridge: 'br0', cidr: '10.9.0.0/16' });
  });

  it.each([
    ['bridge_name = "br0"\n[network]\nbridge = "br1"', ['bridge_name', 'network.bridge']],
    ['cidr = "10.9.0.0/16"\n[network]\ncidr = "10.8.0.0/16"', ['cidr', 'network.cidr']],
    ['default_dns = "1.1.1.1"\n[network]\nguest_dns = "9.9.9.9"', ['default_dns', 'network.guest_dns']],
  ])('refuses %j: the two spellings disagree, naming both', (text, keys) => {
    for (const k of keys) expect(() => parseConfig(text, 'f', host)).toThrow(k);
  });

  it.each([
    ['[network]\nbridge = "a-very-long-bridge-name"', 'network.bridge'],
    ['[network]\ncidr = "10.0.0.0"', 'network.cidr'],
    ['[network]\ndns_port = 70000', 'network.dns_port'],
    ['[network]\ndns_address = "localhost"', 'network.dns_address'],
  ])('rejects %j naming %s', (text, key) => {
    expect(() => parseConfig(text, 'f', host)).toThrow(key);
  });
});

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['90s', 90_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    [' 20s ', 20_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '00', '-5s', '5 m', '1.5h', '5x', 'h', '1h30', '9999999999h', '366d', `${'9'.repeat(400)}s`])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it.each([
    [0, '0'],
    [20_000, '20s'],
    [5_400_000, '1h30m'],
    [90_061_000, '1d1h1m1s'],
  ])('formats %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('planFileSync', () => {
  const plan = (host: string, guest: string, mode?: string) => planFileSync([{ host, guest, ...(mode === undefined ? {} : { mode }) }], '/home/u');

  it.each([
    ['~/.gitconfig', '~/.gitconfig', undefined, '/home/u/.gitconfig', '/root/.gitconfig', 0o600],
    ['~', '~/hosthome', '0755', '/home/u', '/root/hosthome', 0o755],
    ['/etc/hosts', '/root/etc/hosts', '644', '/etc/hosts', '/root/etc/hosts', 0o644],
    ['/a//b/', '~/dir/', '0o700', '/a/b/', '/root/dir', 0o700],
  ])('%j → %j', (host, guest, mode, h, g, m) => {
    expect(plan(host, guest, mode)).toEqual([{ index: 0, host: h, guest: g, mode: m }]);
  });

  it.each([
    ['', '~/x', undefined, /host is empty/],
    ['rel/x', '~/x', undefined, /relative/],
    ['~bob/x', '~/x', undefined, /~user/],
    ['/a/../b', '~/x', undefined, /"\.\."/],
    ['/a', '', undefined, /guest is empty/],
    ['/a', 'x', undefined, /must be ~\/… or \/root\/…/],
    ['/a', '/etc/passwd', undefined, /must be ~\/… or \/root\/…/],
    ['/a', '/rootkit/x', undefined, /must be ~\/… or \/root\/…/],
    ['/a', '~/../etc/x', undefined, /"\.\."/],
    ['/a', '~/', undefined, /home directory itself/],
    ['/a', '/root', undefined, /must be/],
    ['/a', '~/x', '0800', /not octal/],
    ['/a', '~/x', 'rw', /not octal/],
    ['/a', '~/x', '17777', /not octal/],
  ])('refuses host %j guest %j mode %j', (host, guest, mode, why) => {
    expect(() => plan(host, guest, mode)).toThrow(why);
    expect(() => plan(host, guest, mode)).toThrow(/^file_sync\[0\]: /);
  });

  it('names the index of the bad entry', () => {
    expect(() =>
      planFileSync(
        [
          { host: '/a', guest: '~/a' },
          { host: '/b', guest: '~/b' },
          { host: '~other/c', guest: '~/c' },
        ],
        '/home/u',
      ),
    ).toThrow(/^file_sync\[2\]: /);
  });
});

describe('bounded sizes and paths relative to the file', () => {
  it('refuses sizes and memory out of range, naming the range', () => {
    for (const text of ['[vm_defaults]\ndisk_size = "17T"', `[vm_defaults]\ndisk_size = "1${'0'.repeat(400)}"`, 'image_import_max_size = "99999999999T"']) {
      expect(() => parseConfig(text, '/c.toml', host)).toThrow(/from 1M to 16T/);
    }
    expect(() => parseConfig('[vm_defaults]\nmemory_mib = 4000000', '/c.toml', host)).toThrow(/memory is 128 to 1048576 MiB/);
  });

  it('resolves a relative catalog path against the config file, not the working directory', () => {
    expect(parseConfig('catalog = "cat/catalog.json"', '/etc/me/config.toml', host).catalog).toBe('/etc/me/cat/catalog.json');
    expect(parseConfig('catalog = "../shared.json"', '/etc/me/config.toml', host).catalog).toBe('/etc/shared.json');
    expect(parseConfig('catalog = "~/c.json"', '/etc/me/config.toml', host).catalog).toBe('/home/u/c.json');
    expect(parseConfig('catalog = "/abs/c.json"', '/etc/me/config.toml', host).catalog).toBe('/abs/c.json');
    expect(parseConfig('catalog = "https://example.org/c.json"', '/etc/me/config.toml', host).catalog).toBe('https://example.org/c.json');
  });

  it('reads [e2b] enabled (default off) and refuses a non-boolean', () => {
    expect(parseConfig('', '/c.toml', host).e2b).toEqual({ enabled: false });
    expect(parseConfig('[e2b]\nenabled = true', '/c.toml', host).e2b).toEqual({ enabled: true });
    expect(() => parseConfig('[e2b]\nenabled = "yes"', '/c.toml', host)).toThrow(/e2b/);
  });

  it('reads image_import_max_size (default 64G)', () => {
    expect(parseConfig('', '/c.toml', host).imageImportMaxBytes).toBe(64 * 1024 ** 3);
    expect(parseConfig('image_import_max_size = "1M"', '/c.toml', host).imageImportMaxBytes).toBe(1024 ** 2);
  });
});
