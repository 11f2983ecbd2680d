/**
 * Through the real CLI, daemon and a real guest: a guest command killed by a signal exits 128+N
 * (SIGTERM 143, as sh and `docker run` report it; it used to be forced to 137), and one `vm run`
 * against a running daemon makes its two calls, create and exec, with no status probe before them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
beforeAll(async () => {
  inst = await freshInstall();
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

/** The methods the daemon received, in order, from its debug log. */
function requests(): string[] {
  return readFileSync(join(inst.stateDir, 'bangerd.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; method?: string })
    .filter((l) => l.msg === 'request')
    .map((l) => l.method!);
}

describe('guest exit codes and daemon connections through the CLI', () => {
  it('vm run: a command killed by SIGTERM exits 143; create and exec, no probe', async () => {
    const before = requests().length;
    const r = await inst.cli(['vm', 'run', '--cold', '--no-egress', '--name', 'sig', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.code).toBe(143);
    expect(requests().slice(before)).toEqual(['vm.create', 'vm.exec']);
  });

  it('vm exec: SIGKILL 137, SIGINT 130, a plain exit code verbatim', async () => {
    for (const [sig, code] of [['KILL', 137], ['INT', 130]] as const) {
      expect((await inst.cli(['vm', 'exec', 'sig', '--', 'sh', '-c', `kill -${sig} $$`])).code).toBe(code);
    }
    expect((await inst.cli(['vm', 'exec', 'sig', '--', 'sh', '-c', 'exit 143'])).code).toBe(143);
  });
});
