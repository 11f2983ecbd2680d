import { describe, expect, it } from 'vitest';
import { resolvePaths, systemPaths } from '../store/paths.js';
import { DAEMON_RUNTIME_DIR, DAEMON_UNIT, HELPER_CAPABILITIES, HELPER_RUNTIME_DIR, HELPER_UNIT, hardeningOf, renderUnit, unitLines, type UnitInputs } from './units.js';

const inputs: UnitInputs = {
  record: { owner: 'alice', gid: 1001, home: '/home/alice', stateDir: '/home/alice/.local/state/banger', installId: '0a1b2c3d' },
  node: '/usr/bin/node',
  daemonEntry: '/opt/banger/dist/daemon/main.js',
  helperEntry: '/opt/banger/dist/rootd/main.js',
};

describe('unit renderers', () => {
  const cases: Array<[string, typeof DAEMON_UNIT | typeof HELPER_UNIT, string[]]> = [
    [
      'bangerd runs as the owner with the owner\'s XDG dirs and a /run/banger runtime dir',
      DAEMON_UNIT,
      [
        'User=alice',
        'Group=1001',
        'ExecStart=/usr/bin/node /opt/banger/dist/daemon/main.js',
        'Environment=HOME=/home/alice',
        'Environment=XDG_RUNTIME_DIR=/run',
        'Environment=XDG_STATE_HOME=/home/alice/.local/state',
        'Environment=XDG_CONFIG_HOME=/home/alice/.config',
        'Environment=XDG_CACHE_HOME=/home/alice/.cache',
        'RuntimeDirectory=banger',
        'RuntimeDirectoryMode=0700',
        'RuntimeDirectoryPreserve=yes',
        'Wants=bangerd-root.service',
        'After=bangerd-root.service network.target',
      ],
    ],
    ['bangerd: VMs outlive restarts, the host is read-only but the home', DAEMON_UNIT, ['KillMode=process', 'ProtectSystem=strict', 'ReadWritePaths=/home/alice', 'PrivateTmp=yes', 'NoNewPrivileges=no']],
    [
      'bangerd-root: root with a bounded capability set, homes hidden but the state dir',
      HELPER_UNIT,
      [
        'ExecStart=/usr/bin/node /opt/banger/dist/rootd/main.js',
        'RuntimeDirectory=banger-root',
        'KillMode=process',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=tmpfs',
        'BindPaths=-/home/alice/.local/state/banger',
        'PrivateTmp=yes',
        'Before=bangerd.service',
      ],
    ],
  ];
  it.each(cases)('%s', (_name, unit, expected) => {
    const lines = unitLines(renderUnit(inputs, unit));
    for (const l of expected) expect(lines).toContain(l);
  });

  it('the helper keeps exactly ten capabilities, one CapabilityBoundingSet= line each', () => {
    const caps = unitLines(renderUnit(inputs, HELPER_UNIT)).filter((l) => l.startsWith('CapabilityBoundingSet='));
    expect(caps).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_CHOWN', 'CAP_FOWNER', 'CAP_DAC_OVERRIDE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_SYS_ADMIN'].map((c) => `CapabilityBoundingSet=${c}`));
    expect(unitLines(renderUnit(inputs, DAEMON_UNIT)).some((l) => l.startsWith('CapabilityBoundingSet='))).toBe(false);
  });

  it('the daemon never runs as root and has no User= in the helper', () => {
    expect(unitLines(renderUnit(inputs, HELPER_UNIT)).some((l) => l.startsWith('User='))).toBe(false);
    expect(unitLines(renderUnit(inputs, DAEMON_UNIT)).filter((l) => l.startsWith('User='))).toEqual(['User=alice']);
  });

  it('ProtectHome is not set for the daemon, and the unit says why', () => {
    const text = renderUnit(inputs, DAEMON_UNIT);
    expect(unitLines(text).some((l) => l.startsWith('ProtectHome='))).toBe(false);
    expect(text).toMatch(/# .*ProtectHome= cannot be on: bangerd reads the owner's repos/);
  });

  it.each([DAEMON_UNIT, HELPER_UNIT])('every hardening directive of %s has its reason on the line above', (unit) => {
    const text = renderUnit(inputs, unit).split('\n');
    const hardening = hardeningOf(inputs, unit);
    expect(hardening.length).toBeGreaterThan(5);
    for (const d of hardening) {
      const i = text.indexOf(`${d.key}=${d.value}`);
      expect(i, `${d.key}=${d.value}`).toBeGreaterThan(0);
      expect(text[i - 1]).toMatch(/^# \S/);
    }
  });

  it('every helper capability has a reason and CAP_SYS_MODULE/CAP_SYS_PTRACE are not among them', () => {
    for (const c of HELPER_CAPABILITIES) expect(c.why.length).toBeGreaterThan(10);
    const caps = HELPER_CAPABILITIES.map((c) => c.cap);
    expect(caps).not.toContain('CAP_SYS_MODULE');
    expect(caps).not.toContain('CAP_SYS_PTRACE');
    expect(new Set(caps).size).toBe(caps.length);
  });

  it('the sockets the units create are the ones systemPaths and resolvePaths name', () => {
    const sys = systemPaths({});
    expect(sys.daemonSocket).toBe(`/run/${DAEMON_RUNTIME_DIR}/bangerd.sock`);
    expect(resolvePaths({ HOME: '/home/alice', XDG_RUNTIME_DIR: '/run' }).daemonSocket).toBe(sys.daemonSocket);
    expect(sys.helperSocket.startsWith(`/run/${HELPER_RUNTIME_DIR}/`)).toBe(true);
  });

  it.each([
    ['a checkout and node outside homes', '/usr/bin/node', '/opt/banger/dist/rootd/main.js', []],
    ['a checkout in the owner\'s home', '/usr/bin/node', '/home/alice/src/banger/dist/rootd/main.js', ['/home/alice/src/banger']],
    ['nvm node in root\'s home', '/root/.nvm/versions/node/v20.1.0/bin/node', '/opt/banger/dist/rootd/main.js', ['/root/.nvm/versions/node/v20.1.0']],
    ['node inside the checkout', '/home/alice/banger/node/bin/node', '/home/alice/banger/dist/rootd/main.js', ['/home/alice/banger']],
  ])('the helper binds back what ProtectHome hides: %s', (_n, node, helperEntry, want) => {
    const lines = unitLines(renderUnit({ ...inputs, node, helperEntry }, HELPER_UNIT));
    expect(lines.filter((l) => l.startsWith('BindReadOnlyPaths=')).map((l) => l.slice('BindReadOnlyPaths='.length))).toEqual(want);
  });

  it('a state dir outside the home gets its own ReadWritePaths', () => {
    const lines = unitLines(renderUnit({ ...inputs, record: { ...inputs.record, stateDir: '/srv/banger' } }, DAEMON_UNIT));
    expect(lines).toContain('ReadWritePaths=/srv/banger');
  });

  it.each([
    ['a space in the home', { home: '/home/al ice' }, /home path .* cannot go into a systemd unit/],
    ['a % specifier', { stateDir: '/home/alice/%h' }, /state dir path/],
    ['..', { home: '/home/../root' }, /home path/],
    ['a newline in the name', { owner: 'al\nice' }, /not a plain POSIX user name/],
  ])('refuses %s', (_n, patch, msg) => {
    expect(() => renderUnit({ ...inputs, record: { ...inputs.record, ...patch } }, DAEMON_UNIT)).toThrow(msg);
  });

  it('renders the same text as last reviewed', () => {
    expect(renderUnit(inputs, DAEMON_UNIT)).toMatchSnapshot();
    expect(renderUnit(inputs, HELPER_UNIT)).toMatchSnapshot();
  });
});
