import { describe, expect, it } from 'vitest';
import { resolvePaths } from '../store/paths.js';
import { daemonSocketPath } from './socket.js';

describe('the daemon socket, defined once', () => {
  it.each([
    [{ HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000' }, '/run/user/1000/banger/bangerd.sock'],
    [{ HOME: '/home/u', XDG_RUNTIME_DIR: '/tmp/x/run' }, '/tmp/x/run/banger/bangerd.sock'],
  ])('%j → %s, the same path the daemon listens on (store/paths.ts)', (env, socket) => {
    expect(daemonSocketPath(env)).toBe(socket);
    expect(resolvePaths(env).daemonSocket).toBe(socket);
  });
  it('without XDG_RUNTIME_DIR: a per-user directory under /tmp', () => {
    expect(daemonSocketPath({ HOME: '/home/u' })).toBe(resolvePaths({ HOME: '/home/u' }).daemonSocket);
    expect(daemonSocketPath({ HOME: '/home/u' })).toMatch(/^\/tmp\/banger-\d+\/bangerd\.sock$/);
  });
});
