import { describe, expect, it } from 'vitest';
import { resolvePaths } from './paths.js';
import { userRuntimeDir } from '../api/socket.js';

describe('userRuntimeDir', () => {
  it.each([
    [{ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000, ['/run/user/1000'], '/run/user/1000/banger'],
    [{}, 1000, ['/run/user/1000'], '/run/user/1000/banger'],
    [{}, 1000, [], '/tmp/banger-1000'],
    [{ XDG_RUNTIME_DIR: '' }, 0, [], '/tmp/banger-0'],
  ])('env %j uid %i with %j existing -> %s', (env, uid, existing, want) => {
    expect(userRuntimeDir(env, { uid, exists: (p) => existing.includes(p) })).toBe(want);
  });

  it('resolvePaths puts the socket and pid file in it', () => {
    const p = resolvePaths({ HOME: '/home/a' }, { uid: 1000, exists: () => true });
    expect(p.daemonSocket).toBe('/run/user/1000/banger/bangerd.sock');
    expect(p.daemonPidFile).toBe('/run/user/1000/banger/bangerd.pid');
  });
});
