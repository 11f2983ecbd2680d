import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Tiers by suffix (ARCHITECTURE.md, Tests): NAME.test.ts pure, NAME.host.test.ts real host tools,
    // NAME.vm.test.ts real guests. Helpers are test/NAME.fixture.ts (no tests there).
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
    // A pure test that starts a process fails (test/tier-guard.setup.ts).
    setupFiles: ['test/tier-guard.setup.ts'],
    // VM tests share one booted guest per file and are slow under TCG.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
