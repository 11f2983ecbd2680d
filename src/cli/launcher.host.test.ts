/**
 * bin/banger run as a command (issue 13): its sh part starts node without NODE_EXTRA_CA_CERTS (Node 20
 * loads that whole bundle at start-up, before any JavaScript), the CLI puts it back into process.env
 * first thing, so the bangerd it starts has it as the user set it; the pid (exec: node is the process
 * the caller started), arguments and exit code are what they were with `#!/usr/bin/env node`.
 * Run through a PATH entry that is a symlink (as npm and scripts/install.sh link it) and through a
 * relative symlink to that one. Needs `node scripts/build.mjs`.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { spawnProcess } from '../host/exec.js';
import { makeInstall, REPO } from '../../test/install.fixture.js';

interface Seen {
  pid: number;
  main: string;
  args: string[];
  /** NODE_EXTRA_CA_CERTS as node started with it (before any of banger's code ran). */
  atStart: string | null;
  /** ... and at exit (the CLI's process.env after bin/banger restored it). */
  atExit?: string | null;
  parkedAtExit?: string | null;
}

describe('bin/banger as a command', () => {
  it('node starts without NODE_EXTRA_CA_CERTS; the CLI and the bangerd it starts have it as set; pid, args and exit code pass through', async () => {
    const inst = makeInstall(mkdtempSync('/tmp/bl-')); // short: the daemon's socket path stays under 108 bytes
    try {
      const root = inst.root;
      mkdirSync(join(root, 'bin'));
      mkdirSync(join(root, 'other'));
      symlinkSync(join(REPO, 'bin', 'banger'), join(root, 'bin', 'banger')); // as install.sh links it
      symlinkSync(join('..', 'bin', 'banger'), join(root, 'other', 'bg')); // a relative link to that link
      const ca = join(root, 'ca.pem');
      writeFileSync(ca, `${rootCertificates[0]}\n`);
      // Preloaded into every node process of this test (NODE_OPTIONS reaches the daemon too): what each saw.
      const seen = join(root, 'seen.jsonl');
      const hook = join(root, 'hook.cjs');
      writeFileSync(
        hook,
        [
          "const { appendFileSync } = require('node:fs');",
          `const out = ${JSON.stringify(seen)};`,
          'const rec = { pid: process.pid, main: process.argv[1], args: process.argv.slice(2), atStart: process.env.NODE_EXTRA_CA_CERTS ?? null };',
          "appendFileSync(out, JSON.stringify(rec) + '\\n');",
          "process.on('exit', () => appendFileSync(out, JSON.stringify({ ...rec, atExit: process.env.NODE_EXTRA_CA_CERTS ?? null, parkedAtExit: process.env.BANGER_PARKED_NODE_EXTRA_CA_CERTS ?? null }) + '\\n'));",
        ].join('\n'),
      );
      const env = { ...inst.env, BANGER_NO_SYSTEM: '1', NODE_EXTRA_CA_CERTS: ca, NODE_OPTIONS: `--require ${hook}`, PATH: `${join(root, 'bin')}:${process.env.PATH}` };
      const records = () =>
        readFileSync(seen, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Seen);
      const banger = async (argv0: string, args: string[]) => {
        const h = spawnProcess([argv0, ...args], { env, stdio: 'ignore' });
        return { pid: h.pid, code: await h.exit };
      };

      // `banger vm list` as users type it: PATH finds the link; the CLI starts bangerd (none runs yet).
      const list = await banger('banger', ['vm', 'list']);
      expect(list.code).toBe(0);
      const cli = records().filter((r) => r.pid === list.pid);
      expect(cli.length, 'the process the caller started is node itself (exec)').toBe(2);
      expect(cli[0]).toMatchObject({ main: join(root, 'bin', 'banger'), args: ['vm', 'list'], atStart: null });
      expect(cli[1]).toMatchObject({ atExit: ca, parkedAtExit: null });
      const daemon = records().filter((r) => r.main.endsWith('/dist/daemon/main.js'));
      expect(daemon.length).toBe(1);
      expect(daemon[0].atStart).toBe(ca);

      // Odd arguments, an unknown command (exit 2), through the relative link.
      writeFileSync(seen, '');
      const odd = ['frobnicate', 'a b', '', '$HOME', '*', '--', '-x', "it's"];
      const bad = await banger(join(root, 'other', 'bg'), odd);
      expect(bad.code).toBe(2);
      const [start] = records().filter((r) => r.pid === bad.pid);
      expect(start).toMatchObject({ main: join(root, 'other', 'bg'), args: odd, atStart: null });

      // Without the variable: nothing is set, nothing parked.
      writeFileSync(seen, '');
      delete (env as NodeJS.ProcessEnv).NODE_EXTRA_CA_CERTS;
      const plain = await banger('banger', ['--version']);
      expect(plain.code).toBe(0);
      expect(records().filter((r) => r.pid === plain.pid)).toEqual([
        expect.objectContaining({ atStart: null }),
        expect.objectContaining({ atExit: null, parkedAtExit: null }),
      ]);
    } finally {
      await inst.destroy();
    }
  }, 60_000);
});
