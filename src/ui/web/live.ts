/** The live VM list: the daemon's event stream (GET /ui/events) folded into state; stats kept as short histories for the charts. */
import { useEffect, useState } from 'preact/hooks';
import type { UiEvent } from '../../api/ui.js';
import type { z } from 'zod';
import type { Vm, VmStats } from '../../api/vm.js';

export type Stat = z.infer<typeof VmStats>;
export interface StatPoint {
  at: number;
  cpu: number | null;
  rss: number | null;
}
export interface Live {
  connected: boolean;
  vms: Vm[];
  stats: Map<string, Stat>;
  history: Map<string, StatPoint[]>;
}

const HISTORY = 60;

export function useLive(): Live {
  const [live, setLive] = useState<Live>({ connected: false, vms: [], stats: new Map(), history: new Map() });
  useEffect(() => {
    const es = new EventSource('/ui/events');
    const apply = (e: UiEvent) =>
      setLive((cur) => {
        switch (e.type) {
          case 'vms':
            return { ...cur, connected: true, vms: e.vms };
          case 'vm': {
            const i = cur.vms.findIndex((v) => v.id === e.vm.id);
            const vms = i >= 0 ? cur.vms.map((v, k) => (k === i ? e.vm : v)) : [...cur.vms, e.vm];
            return { ...cur, vms };
          }
          case 'vm-removed':
            return { ...cur, vms: cur.vms.filter((v) => v.id !== e.id) };
          case 'stats': {
            const stats = new Map(e.stats.map((s) => [s.name, s]));
            const history = new Map(cur.history);
            for (const s of e.stats) {
              const h = [...(history.get(s.name) ?? []), { at: e.at, cpu: s.cpuPercent, rss: s.rssBytes }];
              history.set(s.name, h.slice(-HISTORY));
            }
            return { ...cur, stats, history };
          }
        }
      });
    for (const t of ['vms', 'vm', 'vm-removed', 'stats']) es.addEventListener(t, (m) => apply(JSON.parse((m as MessageEvent<string>).data) as UiEvent));
    es.onerror = () => setLive((cur) => ({ ...cur, connected: false }));
    return () => es.close();
  }, []);
  return live;
}
