/** The E2B endpoint's pure parts, from tables: routes, path kinds, users and paths, expiry, secrets, process lines and exit events, entry mapping. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Code } from '@connectrpc/connect';
import { BangerError } from '../api/errors.js';
import { matchControlRoute, parseMetadataQuery } from './control.js';
import { toEntryInfo, toFileJson } from './entry.js';
import { toConnectError } from './errors.js';
import { clampTimeout, dueActions, endAtFor, nextDueInMs } from './expiry.js';
import { FileType } from './gen/filesystem_pb.js';
import { ensureApiKey, newSandboxId, secretMatches } from './key.js';
import { e2bPathKind } from './mount.js';
import { endEventFor, processCommandLine } from './processes.js';
import { EventQueue } from './queue.js';
import { resolveGuestPath, userFromAuthorization } from './user.js';
import { NAME_PATTERN } from '../api/names.js';

describe('matchControlRoute', () => {
  it.each([
    ['POST', '/v2/sandboxes', { op: 'create' }],
    ['POST', '/sandboxes', { op: 'create' }],
    ['GET', '/v2/sandboxes', { op: 'list' }],
    ['GET', '/sandboxes/sbx-1', { op: 'get', id: 'sbx-1' }],
    ['DELETE', '/sandboxes/sbx-1', { op: 'kill', id: 'sbx-1' }],
    ['POST', '/sandboxes/sbx-1/timeout', { op: 'timeout', id: 'sbx-1' }],
    ['POST', '/sandboxes/sbx-1/pause', { op: 'pause', id: 'sbx-1' }],
    ['POST', '/sandboxes/sbx-1/resume', { op: 'resume', id: 'sbx-1' }],
    ['POST', '/v2/sandboxes/sbx-1/connect', { op: 'connect', id: 'sbx-1' }],
    ['POST', '/sandboxes/sbx-1/fork', { op: 'fork', id: 'sbx-1' }],
    ['POST', '/sandboxes/sbx-1/refreshes', { op: 'refresh', id: 'sbx-1' }],
    ['PUT', '/sandboxes/sbx-1', null],
    ['POST', '/sandboxes/sbx-1/metrics', null],
    ['GET', '/sandboxes/../etc', null],
    ['GET', '/templates', null],
  ])('%s %s', (method, path, want) => {
    expect(matchControlRoute(method, path)).toEqual(want);
  });
});

describe('e2bPathKind', () => {
  it.each([
    ['/files', 'files'],
    ['/health', 'health'],
    ['/process.Process/Start', 'rpc'],
    ['/filesystem.Filesystem/Stat', 'rpc'],
    ['/v2/sandboxes', 'control'],
    ['/sandboxes/x/pause', 'control'],
    ['/ui', null],
    ['/ui/sandboxes', null],
    ['/sandboxesx', null],
    ['/', null],
  ])('%s → %s', (path, kind) => {
    expect(e2bPathKind(path)).toBe(kind);
  });
});

describe('users and guest paths', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it.each([
    [undefined, 'root'],
    ['', 'root'],
    [basic('user:'), 'user'],
    [basic('root:'), 'root'],
    ['Bearer abc', 'root'],
  ])('authorization %s → %s', (h, user) => {
    expect(userFromAuthorization(h)).toBe(user);
  });
  it('refuses a user name a shell or path could misread', () => {
    expect(() => userFromAuthorization(basic('../x:'))).toThrow(BangerError);
    expect(() => userFromAuthorization(basic('a b:'))).toThrow(/invalid user name/);
  });
  it.each([
    ['/etc/hosts', 'root', '/etc/hosts'],
    ['notes.txt', 'root', '/root/notes.txt'],
    ['notes.txt', 'user', '/home/user/notes.txt'],
    ['~/a/../b', 'user', '/home/user/b'],
    ['~', 'root', '/root'],
    ['/a//b/./c/', 'root', '/a/b/c'],
  ])('%s as %s → %s', (p, user, want) => {
    expect(resolveGuestPath(p, user)).toBe(want);
  });
  it('refuses empty paths and NUL bytes', () => {
    expect(() => resolveGuestPath('', 'root')).toThrow(/empty/);
    expect(() => resolveGuestPath('a\0b', 'root')).toThrow(/NUL/);
  });
});

describe('expiry', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it.each([
    [undefined, 300],
    [0, 0],
    [10.7, 10],
    [-5, 0],
    [10 ** 9, 86_400],
  ])('clampTimeout(%s) = %s', (t, want) => {
    expect(clampTimeout(t)).toBe(want);
  });
  it('end time is now + timeout', () => {
    expect(endAtFor(now, 60)).toBe('2026-01-01T00:01:00.000Z');
  });
  it('plans kill or pause for running sandboxes past their end, never for paused ones', () => {
    const rows = [
      { id: 'a', endAt: '2025-12-31T23:59:59.000Z', onTimeout: 'kill' as const, state: 'running' as const },
      { id: 'b', endAt: '2026-01-01T00:00:00.000Z', onTimeout: 'pause' as const, state: 'running' as const },
      { id: 'c', endAt: '2026-01-01T00:00:01.000Z', onTimeout: 'kill' as const, state: 'running' as const },
      { id: 'd', endAt: '2025-01-01T00:00:00.000Z', onTimeout: 'kill' as const, state: 'paused' as const },
    ];
    expect(dueActions(rows, now)).toEqual([
      { id: 'a', action: 'kill' },
      { id: 'b', action: 'pause' },
    ]);
    expect(nextDueInMs(rows.slice(2), now)).toBe(1000);
    expect(nextDueInMs([rows[3]!], now)).toBeNull();
  });
});

describe('secrets', () => {
  it.each([
    ['k1', 'k1', true],
    ['k1', 'k2', false],
    ['k', 'k1', false],
    [undefined, 'k1', false],
    [['k1'], 'k1', false],
    ['', '', false],
  ])('%j vs %j → %s', (given, expected, ok) => {
    expect(secretMatches(given as string, expected)).toBe(ok);
  });
  it('sandbox ids are valid VM names', () => {
    for (let i = 0; i < 20; i++) expect(newSandboxId()).toMatch(NAME_PATTERN);
  });
  it('the API key file is made once, 0600, and read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'e2b-key-'));
    try {
      const p = join(dir, 'key');
      const k = ensureApiKey(p);
      expect(k).toMatch(/^e2b_[0-9a-f]{40}$/);
      expect(statSync(p).mode & 0o777).toBe(0o600);
      expect(ensureApiKey(p)).toBe(k);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('processes', () => {
  it.each([
    [{ cmd: '/bin/bash', args: ['-l', '-c', 'echo $HOME; ls'], envs: {} }, 'root', "/bin/bash -l -c 'echo $HOME; ls'"],
    [{ cmd: '/bin/bash', args: ['-c', 'x'], envs: {}, cwd: '/tmp/a b' }, 'root', "cd '/tmp/a b' && /bin/bash -c x"],
    [{ cmd: 'id', args: [], envs: {} }, 'user', 'runuser -u user -- id'],
  ])('%j as %s', (cfg, user, line) => {
    expect(processCommandLine(cfg, user)).toBe(line);
  });
  it.each([
    [0, undefined, { exitCode: 0, exited: true, status: 'exit status 0' }],
    [3, undefined, { exitCode: 3, exited: true, status: 'exit status 3', error: 'exit status 3' }],
    [null, 'SIGKILL', { exitCode: -1, exited: false, status: 'signal: killed', error: 'signal: killed' }],
    [null, 'SIGTERM', { exitCode: -1, exited: false, status: 'signal: terminated', error: 'signal: terminated' }],
  ])('exit %s %s', (code, signal, want) => {
    expect(endEventFor(code, signal)).toEqual({ kind: 'end', ...want });
  });
});

describe('mapping', () => {
  const e = { name: 'a.txt', path: '/root/a.txt', type: 'file' as const, size: 12, mode: 0o100644, permissions: '-rw-r--r--', owner: 'root', group: 'root', mtimeMs: 1_700_000_000_123 };
  it('guest entries become envd EntryInfo and /files JSON', () => {
    expect(toEntryInfo(e)).toMatchObject({ name: 'a.txt', type: FileType.FILE, size: 12n, mode: 0o100644, modifiedTime: { seconds: 1_700_000_000n, nanos: 123_000_000 } });
    expect(toEntryInfo({ ...e, type: 'symlink', symlinkTarget: '/x' })).toMatchObject({ type: FileType.SYMLINK, symlinkTarget: '/x' });
    expect(toFileJson({ name: 'a.txt', path: '/root/a.txt' })).toEqual({ name: 'a.txt', type: 'file', path: '/root/a.txt' });
  });
  it.each([
    ['not_found', Code.NotFound],
    ['conflict', Code.AlreadyExists],
    ['bad_request', Code.InvalidArgument],
    ['unavailable', Code.Unavailable],
    ['internal', Code.Internal],
  ] as const)('%s → Connect %s', (code, want) => {
    expect(toConnectError(new BangerError(code, 'x')).code).toBe(want);
  });
  it('parses the metadata query the SDK sends', () => {
    const q = new URLSearchParams({ suite: 'e2b vm', 'k=1': 'v&2' }).toString();
    expect(parseMetadataQuery(q)).toEqual({ suite: 'e2b vm', 'k=1': 'v&2' });
    expect(parseMetadataQuery(null)).toEqual({});
  });
});

describe('EventQueue', () => {
  it('delivers in order, then ends; a subscriber too far behind is cut off with an error', async () => {
    const q = new EventQueue<string>(10, (s) => s.length);
    q.push('abc');
    q.push('def');
    q.close();
    const got: string[] = [];
    for await (const s of q) got.push(s);
    expect(got).toEqual(['abc', 'def']);
    const slow = new EventQueue<string>(5, (s) => s.length);
    slow.push('abcd');
    slow.push('efgh');
    await expect((async () => {
      for await (const _ of slow) void _;
    })()).rejects.toThrow(/fell more than 5 bytes behind/);
  });
});
