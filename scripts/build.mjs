// Compiles TypeScript, the native peercred addon (bangerd-root's caller check), records version,
// commit and build time for `banger version`, and bundles the CLI into one file for bin/banger
// (scripts/bundle.mjs: start-up is most of a short command's time).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleCli } from './bundle.mjs';

execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
// The SDK's types for `import ... from 'banger/sdk'` (package.json exports).
execFileSync('npx', ['tsc', '-p', 'tsconfig.sdk.json'], { stdio: 'inherit' });
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', JSON.stringify({ version: pkg.version, commit, builtAt: new Date().toISOString() }) + '\n');

// Node's headers: next to the running node (<prefix>/include/node), else the distro's /usr/include/node.
const include = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
mkdirSync('dist/native', { recursive: true });
if (!include) {
  // bangerd-root refuses to start without it; everything else works.
  process.stderr.write('build: node_api.h not found (install nodejs headers, e.g. `apt-get install libnode-dev`); dist/native/peercred.node not built\n');
} else {
  const cc = process.env.CC || 'cc';
  execFileSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', 'dist/native/peercred.node', 'native/peercred.c'], { stdio: 'inherit' });
}

// The web UI's front-end (src/ui/web, preact + xterm.js) as one script and one stylesheet in
// dist/ui/assets/, served by the daemon (src/ui/assets.ts): nothing is fetched from elsewhere.
const esbuild = await import('esbuild');
rmSync('dist/ui/assets', { recursive: true, force: true });
await esbuild.build({
  entryPoints: { app: 'src/ui/web/main.tsx' },
  outdir: 'dist/ui/assets',
  bundle: true,
  format: 'esm',
  // xterm.js (most of the weight) is its own chunk, loaded when a terminal opens.
  splitting: true,
  chunkNames: '[name]-[hash]',
  minify: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});

// Last: the bundle is made from the dist/ just compiled, and its code cache by running it.
await bundleCli();
