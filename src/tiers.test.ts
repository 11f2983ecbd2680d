// The tier guard (test/tier-guard.setup.ts) is active: a pure test file cannot start a process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { run } from './host/exec.js';

describe('pure test tier', () => {
  it('refuses a process started through host/exec', async () => {
    await expect(run(['true'])).rejects.toThrow(/pure test .* rename it NAME\.host\.test\.ts/);
  });
  it('refuses a process started directly', () => {
    expect(() => spawnSync('true')).toThrow(/pure test/);
  });
});
