/**
 * The in-browser terminal: a WebSocket (`/ui/ws/term/<vm>?rows=&cols=`) joined to a login shell on
 * a PTY in the guest, over the VM's pooled SSH session. Binary frames carry bytes both ways; text
 * frames carry control messages (api/ui.ts UiTermControl: resize). The shell starts in the VM's
 * workspace when it has one; the VM counts as in use while the terminal is open.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { toBangerError } from '../api/errors.js';
import type { UiTermControl } from '../api/ui.js';
import { inDirectory, shellCommand } from '../guest/quote.js';
import type { Logger } from '../host/logger.js';
import type { VmService } from '../vms/contracts.js';

const LOGIN_SHELL = ['bash', '-l'];
const clampSize = (n: unknown, dflt: number) => (Number.isInteger(n) && (n as number) > 0 && (n as number) <= 1000 ? (n as number) : dflt);

export interface UiTerminal {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, vmName: string, url: URL): void;
  close(): void;
}

export function createUiTerminal(deps: { vms: Pick<VmService, 'session' | 'hold'>; log: Logger }): UiTerminal {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const attach = async (ws: WebSocket, name: string, rows: number, cols: number) => {
    const abort = new AbortController();
    ws.once('close', () => abort.abort());
    let s;
    try {
      s = await deps.vms.session(name, abort.signal);
    } catch (err) {
      ws.send(JSON.stringify({ type: 'error', message: toBangerError(err).message }));
      return ws.close(1011, 'no session');
    }
    if (ws.readyState !== ws.OPEN) return;
    const cwd = s.rec.workspace?.guestPath;
    const h = s.session.exec(cwd ? inDirectory(cwd, LOGIN_SHELL) : shellCommand(LOGIN_SHELL), {
      pty: { rows, cols },
      stdin: 'pipe',
      onStdout: (d) => ws.readyState === ws.OPEN && ws.send(d),
      onStderr: (d) => ws.readyState === ws.OPEN && ws.send(d),
    });
    const release = deps.vms.hold(s.rec.id);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return void h.stdin.write(data);
      try {
        const c = JSON.parse(data.toString()) as UiTermControl;
        if (c.type === 'resize') h.resize(clampSize(c.rows, rows), clampSize(c.cols, cols));
      } catch {
        // not a control message: ignored
      }
    });
    ws.once('close', () => {
      h.stdin.end();
      h.kill('HUP');
    });
    h.exit.then(
      (r) => ws.close(1000, `exit ${r.code ?? r.signal ?? ''}`.slice(0, 100)),
      (err: Error) => ws.close(1011, err.message.slice(0, 100)),
    ).finally(release);
  };
  return {
    upgrade(req, socket, head, vmName, url) {
      const rows = clampSize(Number(url.searchParams.get('rows')), 24);
      const cols = clampSize(Number(url.searchParams.get('cols')), 80);
      wss.handleUpgrade(req, socket, head, (ws) => {
        attach(ws, vmName, rows, cols).catch((err: Error) => {
          deps.log.warn({ vm: vmName, err: err.message }, 'ui terminal failed');
          ws.close(1011);
        });
      });
    },
    close: () => wss.close(),
  };
}
