import { describe, expect, it } from 'vitest';
import { driftWarning } from './drift.js';

describe('HEAD drift', () => {
  const ws = { guestPath: '/root/repo', hostSource: '/src/app', headCommit: 'a'.repeat(40), branch: 'main', mode: 'shallow' as const, preparedAt: '2026-12-03T00:00:00Z' };
  it('warns only when HEAD moved, naming both commits and --auto-prepare', () => {
    expect(driftWarning('web', ws, 'a'.repeat(40))).toBeNull();
    const w = driftWarning('web', ws, 'b'.repeat(40))!;
    expect(w).toContain('bbbbbbbbbbbb');
    expect(w).toContain('aaaaaaaaaaaa');
    expect(w).toContain('--auto-prepare');
  });
});
