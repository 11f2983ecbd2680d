import { describe, expect, it } from 'vitest';
import { extractTarArgv, ownershipKeeper } from './keeper.js';
import { parseSubIds, rootlessProblems, type RootlessFacts } from './rootless.js';
import { toolSearchPath } from '../../host/tools.js';

describe('parseSubIds', () => {
  const text = 'alice:100000:65536\n1001:300000:1000\nbob:165536:65536\n# comment\nbad:x:1\nzero:1:0\n';
  it.each([
    ['alice', 1000, [{ start: 100000, count: 65536 }]],
    ['carol', 1001, [{ start: 300000, count: 1000 }]],
    ['bob', 1002, [{ start: 165536, count: 65536 }]],
    ['bad', 5, []],
    ['zero', 6, []],
    ['nobody', 7, []],
  ])('%s (uid %i)', (user, uid, expected) => expect(parseSubIds(text, user, uid)).toEqual(expected));
});

const ok: RootlessFacts = {
  user: 'dev',
  uid: 1000,
  subuid: 'dev:100000:65536\n',
  subgid: 'dev:100000:65536\n',
  commands: { fakeroot: true, newuidmap: true, newgidmap: true },
  usernsClone: null,
  apparmorRestrictsUserns: null,
};

describe('rootlessProblems', () => {
  it.each<[string, Partial<RootlessFacts>, 'build' | 'import', RegExp[]]>([
    ['all there', {}, 'build', []],
    ['no uidmap', { commands: { fakeroot: true, newuidmap: false, newgidmap: false } }, 'build', [/sudo apt-get install uidmap/]],
    ['no fakeroot', { commands: { fakeroot: false, newuidmap: true, newgidmap: true } }, 'build', [/sudo apt-get install fakeroot/]],
    ['no subuid', { subuid: 'other:1:65536\n' }, 'build', [/dev has no range in \/etc\/subuid: `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 dev`/]],
    ['no files', { subuid: null, subgid: null }, 'build', [/\/etc\/subuid and \/etc\/subgid/]],
    ['userns off', { usernsClone: '0\n' }, 'build', [/unprivileged_userns_clone=1/]],
    ['ubuntu apparmor', { apparmorRestrictsUserns: '1\n' }, 'build', [/apparmor_restrict_unprivileged_userns=0/]],
    ['import needs only fakeroot', { subuid: null, subgid: null, commands: { fakeroot: true, newuidmap: false, newgidmap: false } }, 'import', []],
    ['import without fakeroot', { commands: { fakeroot: false } }, 'import', [/fakeroot/]],
  ])('%s', (_name, over, what, expected) => {
    const problems = rootlessProblems(what, { ...ok, ...over });
    expect(problems).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(problems[i]).toMatch(re));
  });
});

describe('ownershipKeeper', () => {
  it('runs commands as they are for root', () => {
    const k = ownershipKeeper('/s/own.db', 0);
    expect(k.faked).toBe(false);
    expect(k.wrap(['mkfs.ext4', '-d', 'r', 'img'])).toEqual(['mkfs.ext4', '-d', 'r', 'img']);
  });
  it('wraps them in fakeroot sharing one state file otherwise', () => {
    const k = ownershipKeeper('/s/own.db', 1000);
    expect(k.faked).toBe(true);
    expect(k.wrap(['tar', '-x'])).toEqual(['fakeroot', '-i', '/s/own.db', '-s', '/s/own.db', '--', 'tar', '-x']);
  });
  it('makes unreadable files readable on disk (outside fakeroot) only when faked', () => {
    expect(ownershipKeeper('/s/own.db', 0).readableArgv('/r')).toBeNull();
    expect(ownershipKeeper('/s/own.db', 1000).readableArgv('/r')).toEqual(['find', '/r', '!', '-type', 'l', '!', '-perm', '-u=r', '-exec', 'chmod', 'u+rX', '{}', '+']);
  });
  it('extracts keeping numeric owners and all mode bits', () => {
    expect(extractTarArgv('/r', '/t.tar')).toEqual(['tar', '--extract', '--file', '/t.tar', '--directory', '/r', '--numeric-owner', '--same-owner', '--same-permissions']);
  });
});

describe('toolSearchPath', () => {
  it.each([
    ['/usr/local/bin:/usr/bin:/bin', ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin']],
    ['/usr/sbin:/usr/bin', ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/sbin']],
    [undefined, ['/usr/local/sbin', '/usr/sbin', '/sbin']],
    ['relative:/bin', ['/bin', '/usr/local/sbin', '/usr/sbin', '/sbin']],
  ])('%s', (pathVar, expected) => expect(toolSearchPath(pathVar)).toEqual(expected));
});
