import { describe, expect, it } from 'vitest';
import { exitCodeOf, signalExitCode } from './exitstatus.js';

describe('exitCodeOf: a guest command\'s exit code, decided once', () => {
  it.each([
    [{ code: 0 }, 0],
    [{ code: 42 }, 42],
    [{ code: 255 }, 255],
    [{ code: 137 }, 137], // a command that itself exits 137 stays 137
    [{ code: null, signal: 'SIGTERM' }, 143], // like sh and docker run, not 137
    [{ code: null, signal: 'SIGKILL' }, 137],
    [{ code: null, signal: 'SIGINT' }, 130],
    [{ code: null, signal: 'SIGHUP' }, 129],
    [{ code: null, signal: 'SIGSEGV' }, 139],
    [{ code: null, signal: 'SIGPIPE' }, 141],
    [{ code: null, signal: 'SIGNOPE' }, 255],
    [{ code: null }, 255],
  ])('%j → %i', (status, code) => {
    expect(exitCodeOf(status)).toBe(code);
  });

  it('takes the names with and without SIG', () => {
    expect(signalExitCode('TERM')).toBe(143);
    expect(signalExitCode('SIGUSR1')).toBe(138);
    expect(signalExitCode('nope')).toBeNull();
  });
});
