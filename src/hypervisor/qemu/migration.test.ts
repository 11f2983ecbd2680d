import { describe, expect, it } from 'vitest';
import { loadUri, migrationOutcome, saveTarget } from './migration.js';

describe('saveTarget', () => {
  it('writes through a background cat and publishes by rename', () => {
    expect(saveTarget('/s/vm1/state')).toEqual({
      uri: 'exec:exec 3<&0; { cat <&3 >/s/vm1/state.part && mv /s/vm1/state.part /s/vm1/state.written; } &',
      partPath: '/s/vm1/state.part',
      writtenPath: '/s/vm1/state.written',
    });
  });
  it('quotes paths for the shell', () => {
    expect(saveTarget("/s/it's here/state").uri).toBe(
      `exec:exec 3<&0; { cat <&3 >'/s/it'\\''s here/state.part' && mv '/s/it'\\''s here/state.part' '/s/it'\\''s here/state.written'; } &`,
    );
    expect(loadUri('/a b/state')).toBe("exec:cat '/a b/state'");
  });
});

describe('migrationOutcome', () => {
  it.each([
    [{}, { done: false }],
    [{ status: 'setup' }, { done: false }],
    [{ status: 'active' }, { done: false }],
    [{ status: 'device' }, { done: false }],
    [{ status: 'completed', 'total-time': 900 }, { done: true, ok: true }],
    [{ status: 'failed', 'error-desc': 'Unable to write to command: Broken pipe' }, { done: true, ok: false, error: 'Unable to write to command: Broken pipe' }],
    [{ status: 'failed' }, { done: true, ok: false, error: 'migration failed' }],
    [{ status: 'cancelled' }, { done: true, ok: false, error: 'migration cancelled' }],
  ])('%j', (info, expected) => {
    expect(migrationOutcome(info)).toEqual(expected);
  });
});
