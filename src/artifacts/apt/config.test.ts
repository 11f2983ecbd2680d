import { describe, expect, it } from 'vitest';
import { privateAptLayout, renderAptConf, renderSourcesList } from './config.js';
import { aptSourceLines, DEBIAN_ARCHIVE_KEYRING, DEFAULT_DEBIAN_SOURCE } from './sources.js';

const layout = privateAptLayout('/c/banger/apt');
const conf = renderAptConf(layout, { arch: 'amd64' });
/** apt.conf `Key "value";` lines as a map. */
const settings = new Map([...conf.matchAll(/^([A-Za-z:]+) "([^"]*)";$/gm)].map((m) => [m[1], m[2]]));

describe('renderAptConf', () => {
  it.each([
    ['Dir::Etc', '/c/banger/apt/etc'],
    ['Dir::Etc::main', '/c/banger/apt/etc/apt.conf'],
    ['Dir::Etc::parts', '/c/banger/apt/etc/apt.conf.d'],
    ['Dir::Etc::sourcelist', '/c/banger/apt/etc/sources.list'],
    ['Dir::Etc::sourceparts', '/c/banger/apt/etc/sources.list.d'],
    ['Dir::Etc::preferences', '/c/banger/apt/etc/preferences'],
    ['Dir::Etc::preferencesparts', '/c/banger/apt/etc/preferences.d'],
    ['Dir::Etc::trusted', '/c/banger/apt/etc/trusted.gpg'],
    ['Dir::Etc::trustedparts', '/c/banger/apt/etc/trusted.gpg.d'],
    ['Dir::State', '/c/banger/apt/state'],
    ['Dir::State::lists', '/c/banger/apt/state/lists'],
    ['Dir::State::status', '/c/banger/apt/state/status'],
    ['Dir::Cache', '/c/banger/apt/cache'],
    ['APT::Architecture', 'amd64'],
    ['Acquire::AllowInsecureRepositories', 'false'],
    ['Acquire::AllowDowngradeToInsecureRepositories', 'false'],
    ['APT::Get::AllowUnauthenticated', 'false'],
  ])('%s = %s', (key, value) => expect(settings.get(key)).toBe(value));

  it('points nothing at the host: no path outside its own directory', () => {
    const paths = [...settings.values()].filter((v) => v.startsWith('/'));
    expect(paths.length).toBeGreaterThan(10);
    for (const p of paths) expect(p.startsWith('/c/banger/apt/')).toBe(true);
    expect(conf).not.toMatch(/"\/etc\/apt|"\/var\/lib\/apt|"\/var\/cache\/apt/);
  });

  it('never relaxes signature checks', () => {
    expect(conf).not.toMatch(/trusted=yes|"true"|allow-insecure|allow-unauthenticated/i);
  });

  it('only the one architecture (no foreign ones from the host dpkg)', () => {
    expect(conf).toContain('APT::Architectures { "amd64"; };');
  });

  it.each([['/c/a"b'], ['/c/a\nb'], ['/c/a\\b']])('refuses a directory apt.conf cannot quote: %j', (dir) => {
    expect(() => renderAptConf(privateAptLayout(dir), { arch: 'amd64' })).toThrow(/quote, backslash or newline/);
  });
});

describe('renderSourcesList', () => {
  it.each([
    [
      DEFAULT_DEBIAN_SOURCE,
      DEBIAN_ARCHIVE_KEYRING,
      [
        'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main',
        'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main',
        'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main',
      ],
    ],
    [
      { suite: 'trixie', mirror: 'http://m/debian', securityMirror: 'http://m/sec' },
      '/k.gpg',
      ['deb [signed-by=/k.gpg] http://m/debian trixie main', 'deb [signed-by=/k.gpg] http://m/debian trixie-updates main', 'deb [signed-by=/k.gpg] http://m/sec trixie-security main'],
    ],
  ])('%j signed by %s', (src, keyring, lines) => {
    expect(renderSourcesList(src, keyring)).toBe(`${lines.join('\n')}\n`);
  });

  it('is the same source list an image is built from, plus signed-by', () => {
    const plain = aptSourceLines(DEFAULT_DEBIAN_SOURCE);
    const signed = renderSourcesList(DEFAULT_DEBIAN_SOURCE, DEBIAN_ARCHIVE_KEYRING).trim().split('\n');
    expect(signed.map((l) => l.replace(/\[signed-by=[^\]]+\] /, ''))).toEqual(plain);
  });
});
