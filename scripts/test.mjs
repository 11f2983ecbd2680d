// The one test command (README Quick start, .ci/run): builds, runs every test with vitest,
// and prints a plain closing line "N passed, N failed, N skipped".
// Extra arguments go to vitest (e.g. `npm test -- src/store`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const build = spawnSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
mkdirSync('.tmp', { recursive: true });
const out = '.tmp/vitest-results.json';
rmSync(out, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`, ...process.argv.slice(2)];
const r = spawnSync('npx', args, { stdio: 'inherit' });
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const j = JSON.parse(readFileSync(out, 'utf8'));
  passed = j.numPassedTests;
  // A file that fails to load has no failed test in it: count it as one failure.
  const brokenFiles = (j.testResults ?? []).filter((t) => t.status === 'failed' && !t.assertionResults?.some((a) => a.status === 'failed')).length;
  failed = j.numFailedTests + brokenFiles;
  skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
} catch {
  failed = Math.max(failed, 1);
}
if (r.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
