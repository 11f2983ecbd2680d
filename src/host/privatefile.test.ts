import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePrivateDir, openTempBeside, privateDirProblem, replaceFileSync, writeNewFileSync } from './privatefile.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'privfile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replaceFileSync (pid files)', () => {
  it('removes a planted symlink instead of writing through it; the target is untouched', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const pid = join(dir, 'bangerd.pid');
    symlinkSync(victim, pid);
    replaceFileSync(pid, '123\n');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(pid).isSymbolicLink()).toBe(false);
    expect(readFileSync(pid, 'utf8')).toBe('123\n');
    expect(lstatSync(pid).mode & 0o777).toBe(0o600);
  });

  it('writeNewFileSync refuses an existing name and a dangling link (O_EXCL|O_NOFOLLOW)', () => {
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'would-be-created'), link);
    expect(() => writeNewFileSync(link, 'x')).toThrow(/EEXIST/);
    expect(existsSync(join(dir, 'would-be-created'))).toBe(false);
  });
});

describe('openTempBeside', () => {
  it('creates an unpredictable new file next to the target', async () => {
    const a = await openTempBeside(join(dir, 'out.tar.zst'));
    const b = await openTempBeside(join(dir, 'out.tar.zst'));
    await a.handle.close();
    await b.handle.close();
    expect(a.path).not.toBe(b.path);
    expect(a.path.startsWith(join(dir, '.out.tar.zst.tmp-'))).toBe(true);
    expect(lstatSync(a.path).mode & 0o777).toBe(0o600);
  });
});

describe('ensurePrivateDir', () => {
  it('creates a missing directory 0700 and accepts it', () => {
    const d = join(dir, 'rt', 'banger');
    ensurePrivateDir(d, 'runtime directory');
    expect(lstatSync(d).mode & 0o777).toBe(0o700);
  });

  it('refuses a loose mode, a symlink and a file, naming the problem', () => {
    const loose = join(dir, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    expect(() => ensurePrivateDir(loose, 'runtime directory')).toThrow(/has mode 0777, not 0700/);
    const link = join(dir, 'link');
    mkdirSync(join(dir, 'real'), { mode: 0o700 });
    symlinkSync(join(dir, 'real'), link);
    expect(() => ensurePrivateDir(link, 'runtime directory')).toThrow(/is a symbolic link/);
    expect(readlinkSync(link)).toBe(join(dir, 'real'));
  });

  it.each([
    [{ link: false, dir: true, uid: 1000, mode: 0o40700 }, 1000, null],
    [{ link: false, dir: true, uid: 1001, mode: 0o40700 }, 1000, 'is owned by uid 1001, not by you (uid 1000)'],
    [{ link: false, dir: true, uid: 1000, mode: 0o40755 }, 1000, 'has mode 0755, not 0700'],
    [{ link: true, dir: false, uid: 1000, mode: 0o120777 }, 1000, 'is a symbolic link'],
    [{ link: false, dir: false, uid: 1000, mode: 0o100600 }, 1000, 'is not a directory'],
  ])('privateDirProblem(%j, %i) = %s', (s, uid, want) => {
    expect(privateDirProblem({ isDirectory: () => s.dir, isSymbolicLink: () => s.link, uid: s.uid, mode: s.mode }, uid)).toBe(want);
  });
});
