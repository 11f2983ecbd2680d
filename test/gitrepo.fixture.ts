/**
 * Test helper: builds small real git repos with odd file names, modes, symlinks, ignored and
 * untracked files. Used by the workspace tests (host-only, sshd and VM). Not imported by production code.
 */
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run, type RunResult } from '../src/host/exec.js';
import { gitEnv } from '../src/workspace/repo.js';

export type FileSpec = string | { content: string | Buffer; mode?: number } | { symlink: string };

/** Names a workspace must carry intact. */
export const ODD_NAMES = ['sp ace.txt', "quo'te\".txt", 'new\nline.txt', '$(touch pwned).txt', '-dash.txt', 'ünïcode.txt', 'back\\slash.txt', '*.glob'];

export async function g(dir: string, ...args: string[]): Promise<string> {
  return (await run(['git', '-C', dir, ...args], { env: gitEnv({ GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z' }) })).stdout;
}

export async function gitRun(dir: string, args: string[], input?: string | Buffer): Promise<RunResult> {
  return run(['git', '-C', dir, ...args], { env: gitEnv(), input, check: false });
}

export async function writeFiles(dir: string, files: Record<string, FileSpec>): Promise<void> {
  for (const [name, spec] of Object.entries(files)) {
    const p = join(dir, name);
    await mkdir(dirname(p), { recursive: true });
    if (typeof spec === 'string') await writeFile(p, spec);
    else if ('symlink' in spec) await symlink(spec.symlink, p);
    else {
      await writeFile(p, spec.content);
      if (spec.mode !== undefined) await chmod(p, spec.mode);
    }
  }
}

/** A repo with one commit of `files`, identity set, on branch `main`. */
export async function makeRepo(dir: string, files: Record<string, FileSpec>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await g(dir, 'init', '-q', '-b', 'main');
  await g(dir, 'config', 'user.name', 'Test User');
  await g(dir, 'config', 'user.email', 'test@example.com');
  await writeFiles(dir, files);
  await g(dir, 'add', '-A');
  await g(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

export async function commitAll(dir: string, message: string): Promise<string> {
  await g(dir, 'add', '-A');
  await g(dir, 'commit', '-q', '-m', message);
  return (await g(dir, 'rev-parse', 'HEAD')).trim();
}
