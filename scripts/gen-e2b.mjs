// Regenerates src/e2b/gen/ (protobuf-es types and service descriptors) from the E2B envd .proto
// files copied in src/e2b/proto/ (Apache-2.0, see LICENSE there). Run: node scripts/gen-e2b.mjs
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const template = JSON.stringify({
  version: 'v2',
  plugins: [{ local: 'protoc-gen-es', out: 'src/e2b/gen', opt: ['target=ts', 'import_extension=js'], include_imports: false }],
});
rmSync('src/e2b/gen', { recursive: true, force: true });
execFileSync('npx', ['buf', 'generate', 'src/e2b/proto', '--template', template], { stdio: 'inherit' });
