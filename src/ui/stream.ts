/**
 * `GET /ui/events`: the live VM list as server-sent events (api/ui.ts UiEvent). The first event is
 * the whole list; then every change the VM service publishes (vms/events.ts) is sent as that VM's
 * new view, and while anyone watches, the stats sampler's figures every interval. The same tick
 * compares each VM's live state with the one last sent, so a guest that powered off on its own
 * (no write to its record) still shows as stopped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UiEvent } from '../api/ui.js';
import type { Vm } from '../api/vm.js';
import type { Logger } from '../host/logger.js';
import type { VmEvents } from '../vms/events.js';
import type { VmService } from '../vms/contracts.js';

export interface UiStreamDeps {
  vms: Pick<VmService, 'list' | 'show' | 'stats'>;
  events: VmEvents;
  statsIntervalMs: number;
  log: Logger;
}

export interface UiStream {
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** Open streams (tests, status). */
  clients(): number;
  close(): void;
}

export function createUiStream(deps: UiStreamDeps): UiStream {
  const clients = new Set<ServerResponse>();
  const lastState = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;
  let unsubscribe: (() => void) | null = null;

  const send = (e: UiEvent) => {
    const text = `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    for (const c of clients) c.write(text);
  };
  const sendVm = (vm: Vm) => {
    lastState.set(vm.id, vm.state);
    send({ type: 'vm', vm });
  };
  const tick = async () => {
    try {
      const vms = deps.vms.list();
      for (const v of vms) if (lastState.get(v.id) !== v.state) sendVm(v);
      const stats = await deps.vms.stats();
      send({ type: 'stats', at: Date.now(), stats });
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'ui stats tick failed');
    }
  };
  const startWatching = () => {
    unsubscribe = deps.events.on((e) => {
      if (e.kind === 'removed') {
        lastState.delete(e.id);
        return send({ type: 'vm-removed', id: e.id, name: e.name });
      }
      // The view (live state, ssh, autostop) of this one VM, read when the change is written.
      let vm: Vm | null = null;
      try {
        vm = deps.vms.show(e.name);
      } catch {
        return; // gone again, or unreadable: the remove event or the next tick says so
      }
      if (vm.id === e.id) sendVm(vm);
    });
    timer = setInterval(() => void tick(), deps.statsIntervalMs);
    timer.unref();
  };
  const stopWatching = () => {
    unsubscribe?.();
    unsubscribe = null;
    if (timer) clearInterval(timer);
    timer = null;
  };

  return {
    serve(req, res) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      if (clients.size === 0) startWatching();
      clients.add(res);
      const vms = deps.vms.list();
      for (const v of vms) lastState.set(v.id, v.state);
      res.write(`retry: 2000\nevent: vms\ndata: ${JSON.stringify({ type: 'vms', vms } satisfies UiEvent)}\n\n`);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      ping.unref();
      req.on('close', () => {
        clearInterval(ping);
        clients.delete(res);
        if (clients.size === 0) stopWatching();
      });
      // Stats soon, not at once: sampling every VM's disk competes with the first render.
      setTimeout(() => void tick(), 750).unref();
    },
    clients: () => clients.size,
    close() {
      stopWatching();
      for (const c of clients) c.end();
      clients.clear();
    },
  };
}
