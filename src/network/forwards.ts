/**
 * User-mode port forwards added to a VM after create (`banger vm forward`). Two records, kept in step
 * under vmLock: the VM row holds the intent (guest port → host port), re-applied at every start;
 * handles.json holds what the running QEMU forwards now, so a restarted daemon still knows it.
 */
import { BangerError, notFound } from '../api/errors.js';
import type { VmForwardsResult } from '../api/network.js';
import { vmHostName } from '../api/names.js';
import type { VmNetwork } from '../api/vm.js';
import type { Locks } from '../host/locks.js';
import type { Driver } from '../hypervisor/driver.js';
import { writeHandles, type Handles } from '../store/handles.js';
import type { Paths } from '../store/paths.js';
import type { VmRecord, VmStore } from '../store/vms.js';
import { freePort } from './ports.js';

export interface ForwardingDeps {
  store: VmStore;
  driver: Driver;
  locks: Locks;
  paths: Paths;
  lookup(name: string): VmRecord;
  /** The VM's handles when it runs, else null. */
  running(rec: VmRecord): Handles | null;
}

type Stored = NonNullable<VmNetwork['forwards']>[number];

const byGuestPort = (a: { guestPort: number }, b: { guestPort: number }) => a.guestPort - b.guestPort;

function result(name: string, stored: readonly Stored[], h: Handles | null): VmForwardsResult {
  return {
    name,
    forwards: [...stored]
      .sort(byGuestPort)
      .map((f) => ({ ...f, active: !!h && h.forwards.some((a) => a.guestPort === f.guestPort && a.hostPort === f.hostPort) })),
  };
}

export function createForwarding(d: ForwardingDeps) {
  const userMode = (rec: VmRecord) => {
    if (rec.network.mode !== 'user') {
      throw new BangerError(
        'bad_request',
        `VM "${rec.name}" uses bridge networking: its ports are reachable at ${vmHostName(rec.name)}:PORT (${rec.network.ip ?? 'its address'}) without forwarding`,
      );
    }
  };
  const ports = () => {
    if (!d.driver.ports) throw new BangerError('unavailable', 'this hypervisor cannot forward ports of a running VM; stop the VM, add the forward, start it');
    return d.driver.ports;
  };
  const saveHandles = (rec: VmRecord, h: Handles) => writeHandles(d.paths.vmFile(rec.id, 'handles'), h);

  return {
    list(name: string): VmForwardsResult {
      const rec = d.lookup(name);
      return result(rec.name, rec.network.forwards ?? [], d.running(rec));
    },

    /** Forwards 127.0.0.1:hostPort (default: a free port) to the guest port; replaces an earlier forward of that guest port. */
    async add(name: string, guestPort: number, hostPort?: number): Promise<VmForwardsResult> {
      const rec = d.lookup(name);
      return d.locks.vm.with(rec.id, async () => {
        const cur = d.store.get(rec.id)!;
        userMode(cur);
        const stored = cur.network.forwards ?? [];
        const h = d.running(cur);
        const same = stored.find((f) => f.guestPort === guestPort);
        const active = h?.forwards.find((f) => f.guestPort === guestPort);
        if (same && (hostPort === undefined || same.hostPort === hostPort) && (!h || (active && active.hostPort === same.hostPort))) {
          return result(cur.name, stored, h); // already so
        }
        let port: number | null = hostPort ?? (h ? await freePort() : (same?.hostPort ?? null));
        if (h) {
          if (hostPort !== undefined && hostPort === h.ssh.port) throw new BangerError('conflict', `127.0.0.1:${hostPort} is this VM's SSH port; pick another host port`);
          if (active) await ports().removeForward(h, active.hostPort).catch(() => undefined);
          await ports().addForward(h, port!, guestPort);
          saveHandles(cur, { ...h, forwards: [...h.forwards.filter((f) => f.guestPort !== guestPort), { hostPort: port!, guestPort }].sort(byGuestPort) });
        }
        const next = [...stored.filter((f) => f.guestPort !== guestPort), { guestPort, hostPort: port }].sort(byGuestPort);
        d.store.update(cur.id, { network: { ...cur.network, forwards: next } });
        return result(cur.name, next, d.running(cur));
      });
    },

    async remove(name: string, guestPort: number): Promise<VmForwardsResult> {
      const rec = d.lookup(name);
      return d.locks.vm.with(rec.id, async () => {
        const cur = d.store.get(rec.id)!;
        userMode(cur);
        const stored = cur.network.forwards ?? [];
        const h = d.running(cur);
        const active = h?.forwards.find((f) => f.guestPort === guestPort);
        if (!stored.some((f) => f.guestPort === guestPort) && !active) {
          throw notFound('port forward', `guest port ${guestPort} of ${cur.name}`, `\`banger vm ports ${cur.name}\` lists its forwards`);
        }
        if (h && active) {
          await ports()
            .removeForward(h, active.hostPort)
            .catch((err: unknown) => {
              if (!(err instanceof BangerError && err.code === 'not_found')) throw err;
            });
          saveHandles(cur, { ...h, forwards: h.forwards.filter((f) => f.guestPort !== guestPort) });
        }
        const next = stored.filter((f) => f.guestPort !== guestPort);
        d.store.update(cur.id, { network: { ...cur.network, forwards: next } });
        return result(cur.name, next, d.running(cur));
      });
    },
  };
}
export type Forwarding = ReturnType<typeof createForwarding>;
