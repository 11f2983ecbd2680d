import { describe, expect, it } from 'vitest';
import type { ImageRuntimeConfig } from '../api/image.js';
import { envRecord, nonRootUser, runtimeCommand } from './runtime.js';

const rt = (p: Partial<ImageRuntimeConfig>): ImageRuntimeConfig => ({ env: [], workingDir: null, user: null, entrypoint: [], cmd: [], ...p });

describe('runtimeCommand', () => {
  it.each<[string, ImageRuntimeConfig | null, string | undefined, string]>([
    ['no runtime: the command as is', null, undefined, 'echo hi'],
    ['no runtime, a directory', null, '/w', 'cd /w && echo hi'],
    ['WorkingDir', rt({ workingDir: '/app' }), undefined, 'cd /app && echo hi'],
    ['the caller directory wins over WorkingDir', rt({ workingDir: '/app' }), '/ws', 'cd /ws && echo hi'],
    ['Env exported, braced under cd', rt({ env: ['A=1', 'B=x y'], workingDir: '/app' }), undefined, "cd /app && { export A=1 B='x y'; echo hi; }"],
    ['Env names a shell cannot assign are skipped; later wins', rt({ env: ['A-B=1', 'C=1', 'C=2', 'D'] }), undefined, "export C=2 D=''; echo hi"],
    ['root user: nothing to do', rt({ user: '0:0' }), undefined, 'echo hi'],
  ])('%s', (_what, r, cwd, want) => {
    expect(runtimeCommand(['echo', 'hi'], r, cwd)).toBe(want);
  });

  it('User: setpriv looked up before Env replaces PATH, then exec as uid:gid', () => {
    const s = runtimeCommand(['id'], rt({ user: '1000:50', env: ['PATH=/x'] }));
    expect(s).toBe(
      "banger_setpriv=$(command -v setpriv) || { echo 'banger: the image sets a User but the guest has no setpriv' >&2; exit 127; }; export PATH=/x; exec \"$banger_setpriv\" --reuid=1000 --regid=50 --clear-groups -- id",
    );
  });

  it('User by name only: primary group from id -g', () => {
    expect(runtimeCommand(['id'], rt({ user: 'app' }))).toContain('--reuid=app --regid="$(id -g app 2>/dev/null || echo 0)"');
  });
});

describe('pieces', () => {
  it('envRecord keeps values with = in them', () => expect(envRecord(['A=b=c'])).toEqual({ A: 'b=c' }));
  it.each([
    [null, null],
    ['root', null],
    ['app', { user: 'app', group: null }],
    ['1:2', { user: '1', group: '2' }],
    ['app:', { user: 'app', group: null }],
  ])('nonRootUser(%j)', (u, want) => expect(nonRootUser(u)).toEqual(want));
});
