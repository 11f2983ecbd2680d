/**
 * Guest output to a stalled client (issue 11, item 4): the real vm.exec handler, server and dispatch,
 * a real ssh2 channel to a real sshd on 127.0.0.1 (no VM). The seam is what the VM service's exec verb
 * asks for (the VM's record, the guest connection): doubles that hand out that connection. A client that stops reading must pause the command, not make
 * the daemon buffer its output.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect, type Server } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import type { GuestConnection } from '../guest/connection.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';
import { silentLogger } from '../host/logger.js';
import { createLocks } from '../host/locks.js';
import { createAccess } from '../vms/access.js';
import type { VmContext, VmService } from '../vms/contracts.js';
import type { Machine } from '../vms/machine.js';
import type { VmView } from '../vms/view.js';
import { createDispatch, type Handlers } from './dispatch.js';
import { startServer } from './server.js';
import { vmHandlers } from './vm-handlers.js';

const MiB = 1024 * 1024;
const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping exec backpressure test: ${skipReason}`);

describe.skipIf(skipReason !== null)('vm.exec output to a client that stops reading', () => {
  let guest: TestSshGuest;
  let dir: string;
  let conn: GuestConnection;
  let server: Server;
  let sock: string;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-execbp-' });
    dir = guest.dir;
    conn = await guest.connect({ alias: 'bp.vm' });
    // The real exec verb (vms/access.ts) over doubles of what it asks: the VM's record and the guest connection.
    const rec = { id: 'bp', name: 'bp', workspace: null };
    const handles = { ssh: { host: guest.sshd.host, port: guest.sshd.port } };
    const vmCtx = { store: { get: () => rec }, locks: createLocks(), guest: { open: async () => conn }, log: silentLogger, activity: { touch() {}, hold: () => () => {} } };
    const view = { lookup: () => rec, requireRunning: () => handles };
    const vms = { exec: createAccess(vmCtx as unknown as VmContext, view as unknown as VmView, {} as Machine).exec } as unknown as VmService;
    const exec = vmHandlers(vms, {} as never)['vm.exec'];
    const handlers = new Proxy({} as Handlers, { get: (_t, name: string) => (name === 'vm.exec' ? exec : async () => ({ ok: true })) });
    sock = join(dir, 'd.sock');
    server = await startServer({ socketPath: sock, dispatch: createDispatch(handlers), log: silentLogger });
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await guest?.close();
  });

  it('pauses the guest command while the client does not read, then delivers every byte, the result last', async () => {
    const progress = join(dir, 'progress');
    // 128 MiB in 64 KiB writes; after each write the count of writes done goes to a file the test reads.
    const script = `import os\nb=b"x"*65536\np=${JSON.stringify(progress)}\nfor i in range(2048):\n  os.write(1,b)\n  open(p+".t","w").write(str(i+1))\n  os.replace(p+".t",p)\n`;
    const s = netConnect(sock);
    s.pause();
    s.write(`${JSON.stringify({ v: 1, method: 'vm.exec', params: { name: 'bp', argv: ['python3', '-c', script] } })}\n`);
    await new Promise((r) => setTimeout(r, 4000));
    const written = Number(await readFile(progress, 'utf8').catch(() => '0')) * 64 * 1024;
    // the daemon's socket queue (1 MiB), the ssh window (2 MiB), kernel socket and pipe buffers: far below 128 MiB
    console.log(`guest wrote ${(written / MiB).toFixed(1)} MiB of 128 while the client did not read`);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(24 * MiB);

    let bytes = 0;
    let tail = '';
    const last = await new Promise<unknown>((resolve) => {
      s.on('data', (d: Buffer) => {
        const lines = (tail + d.toString()).split('\n');
        tail = lines.pop()!;
        for (const l of lines) {
          const f = JSON.parse(l);
          if (f.stream === 'stdout') bytes += Buffer.from(f.data, 'base64').length;
          else if (!f.stream) resolve(f);
        }
      });
      s.resume();
    });
    expect(bytes).toBe(128 * MiB);
    expect(last).toEqual({ result: { exitCode: 0, signal: null } });
    s.destroy();
  }, 120_000);

  it('round-trips stdin through the real handler and channel, and output comes before the result', async () => {
    const out: Buffer[] = [];
    const r = await call(sock, 'vm.exec', { name: 'bp', argv: ['sh', '-c', 'wc -c; echo err >&2'], stdin: true }, { stdin: Readable.from([Buffer.alloc(3 * MiB, 1)]), onStream: (_s, d) => out.push(d) });
    expect(r).toEqual({ exitCode: 0, signal: null });
    expect(Buffer.concat(out).toString()).toMatch(/^(3145728\nerr\n|err\n3145728\n)$/);
  });
});
