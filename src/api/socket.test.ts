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
  it('without XDG_RUNTIME_DIR: /run/user/<uid> when it exists, else a per-user directory under /tmp', () => {
    const none = { uid: 1000, exists: () => false };
    const run = { uid: 1000, exists: (p: string) => p === '/run/user/1000' };
    expect(daemonSocketPath({ HOME: '/home/u' }, none)).toBe(resolvePaths({ HOME: '/home/u' }, none).daemonSocket);
    expect(daemonSocketPath({ HOME: '/home/u' }, none)).toBe('/tmp/banger-1000/bangerd.sock');
    expect(daemonSocketPath({ HOME: '/home/u' }, run)).toBe('/run/user/1000/banger/bangerd.sock');
  });
});
