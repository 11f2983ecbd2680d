/**
 * Keeps the test tiers honest (ARCHITECTURE.md, Tests): a pure test file (NAME.test.ts, not
 * .host.test.ts or .vm.test.ts) that starts a process fails with a message naming the fix, so
 * `npm run test:unit` stays free of host tools. Loaded by vitest.config.ts as a setup file; it wraps
 * the child_process functions in each test worker (host/exec.ts is their only caller).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { expect } from 'vitest';

const SPAWNERS = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork'] as const;

export function isPureTestFile(path: string): boolean {
  return path.endsWith('.test.ts') && !path.endsWith('.host.test.ts') && !path.endsWith('.vm.test.ts');
}

const cp = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of SPAWNERS) {
  const original = cp[name];
  cp[name] = function guarded(this: unknown, ...args: unknown[]) {
    let file = '';
    try {
      file = expect.getState().testPath ?? '';
    } catch {}
    if (isPureTestFile(file)) {
      throw new Error(`${file} is a pure test (NAME.test.ts) but started a process (${String(args[0])}): rename it NAME.host.test.ts`);
    }
    return original.apply(this, args);
  };
}
syncBuiltinESMExports();
