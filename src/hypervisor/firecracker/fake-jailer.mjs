#!/usr/bin/env node
/**
 * Test seam for contract.host.test.ts: a stand-in for Firecracker's jailer. It accepts the jailer's argv,
 * creates <chroot-base>/<exec-file-name>/<id>/root, starts the exec file there with the arguments after
 * `--` (FAKE_FC_ROOT tells fake-firecracker.mjs to resolve its paths inside that root, since it cannot
 * chroot), writes <root>/<exec-file-name>.pid, and exits 0, as the real jailer (1.7+) does after its fork.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const own = sep >= 0 ? argv.slice(0, sep) : argv;
const passThrough = sep >= 0 ? argv.slice(sep + 1) : [];
const flag = (name) => {
  const i = own.indexOf(name);
  return i >= 0 ? own[i + 1] : undefined;
};
const id = flag('--id');
const execFile = flag('--exec-file');
if (!id || !execFile || flag('--uid') === undefined || flag('--gid') === undefined) {
  process.stderr.write('fake-jailer: --id, --exec-file, --uid and --gid are required\n');
  process.exit(2);
}
const root = join(flag('--chroot-base-dir') ?? '/srv/jailer', basename(execFile), id, 'root');
mkdirSync(join(root, 'run'), { recursive: true });
const child = spawn(execFile, [`--id=${id}`, ...passThrough], {
  env: { ...process.env, FAKE_FC_ROOT: root },
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
});
writeFileSync(join(root, `${basename(execFile)}.pid`), String(child.pid));
child.unref();
process.exit(0);
