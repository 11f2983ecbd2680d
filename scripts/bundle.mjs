// Bundles the compiled CLI (dist/cli/main.js) into one file, dist/bundle/banger.cjs, and writes V8's code
// cache for it (banger.cjs.v8cache), so `bin/banger` starts without resolving ~190 modules, parsing them or
// compiling the functions every command runs: start-up is most of a short command's time (issue 13).
//
// - CommonJS, so bin/banger can compile it through node:vm with the code cache (Node 20 has no compile
//   cache for ES modules). A dynamic `import()` of a bundled module becomes a lazy init, of an external
//   package a require() when reached: a command that imports its heavy parts inside its action pays for
//   them only when it runs.
// - Only BUNDLED packages go in: small, pure JS, no native parts, no files read beside their code. Every
//   other package stays a runtime `require` from node_modules, so a dependency added later works as before
//   (unbundled) until someone measures it and lists it here.
// - Each bundled dist file keeps its own `import.meta.url` (rewritten to its dist path relative to the
//   bundle): paths found next to the code (dist/daemon/main.js, dist/build-info.json, spec/, catalog/)
//   resolve as they do unbundled.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';

export const BUNDLE = 'dist/bundle/banger.cjs';
const BUNDLED = new Set(['commander', 'zod', 'smol-toml', 'yaml']);

const packageOf = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

/** Bare package specifiers not in BUNDLED are left to Node's resolution at run time. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true };
    });
  },
};

/** `import.meta.url` of each dist file, as if it ran from its own place in dist/. */
function ownMetaUrl(outfile) {
  return {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\/dist\/.*\.js$/ }, async (args) => {
        let contents = await readFile(args.path, 'utf8');
        if (contents.includes('import.meta.url')) {
          const rel = relative(dirname(outfile), args.path);
          contents = contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, __bangerBundleUrl).href`);
        }
        return { contents, loader: 'js' };
      });
    },
  };
}

/** esbuild's options for one CommonJS bundle of a dist/ entry point. */
export function bundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // `import()` of an external package becomes require() too: Node 20 loses a script's dynamic-import
    // callback when its code comes from the code cache (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so the
    // bundle holds no real import() (ES-only packages load through require(esm), Node >= 20.19).
    supported: { 'dynamic-import': false },
    minifyWhitespace: true,
    minifySyntax: true, // names stay: stack traces still say which function
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [externalPackages, ownMetaUrl(outfile)],
    banner: { js: "const __bangerBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  };
}

export async function bundleCli(root = process.cwd()) {
  const outfile = resolve(root, BUNDLE);
  // A stale cache for a changed bundle must never be used: gone before the bundle changes.
  for (const f of safeList(dirname(outfile))) rmSync(join(dirname(outfile), f), { force: true });
  const r = await esbuild.build(bundleOptions(resolve(root, 'dist/cli/main.js'), outfile));
  const external = [...new Set(Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:')).map((i) => i.path)))];
  // The code cache: bin/banger writes it after a run when there is none (BANGER_CODE_CACHE=write makes the
  // run not wait for a lazy moment). `--help` builds the whole command tree, the part every command runs.
  execFileSync(process.execPath, [resolve(root, 'bin/banger'), '--help'], { cwd: root, stdio: 'ignore', env: { ...process.env, BANGER_CODE_CACHE: 'write' } });
  return { bytes: readFileSync(outfile).length, external };
}

function safeList(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
