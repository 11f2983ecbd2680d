/**
 * The whole "what runs my VMs here" decision as one pure function of host facts: the accelerator
 * (accel.ts), whether VMs can get a tap (root or the root helper), the driver (registry.ts), and for
 * each VM the network mode it gets when it asks for none or for one. Table-tested in choice.test.ts;
 * the daemon gathers the facts once at start.
 */
import type { NetworkMode } from '../api/enums.js';
import { BangerError } from '../api/errors.js';
import { decideAccel, type AccelRequest, type HostAccelFacts } from './accel.js';
import type { Accel } from './driver.js';
import { bridgeAvailability, decideDriver, type BridgeAvailability, type DriverFacts, type DriverName, type DriverRequest } from './registry.js';

/** The one refusal of bridge mode where neither bangerd is root nor the root helper is installed. */
export const NEEDS_HELPER =
  'bridge networking needs root for the bridge, taps and iptables rules: run `sudo banger system install` (installs the bangerd-root helper), or use --network user';

export interface HostFacts {
  hypervisor: DriverRequest;
  accel: AccelRequest;
  kvm: HostAccelFacts;
  drivers: DriverFacts['drivers'];
  root: boolean;
  /** The root helper's socket answers. */
  helper: boolean;
}

export interface HypervisorChoice {
  accel: Accel;
  accelReason: string;
  driver: DriverName;
  driverReason: string;
  bridge: BridgeAvailability;
  /** The network a VM gets when it asks for none: user mode where the driver has it, else bridge with NAT. */
  defaultNetwork: { mode: NetworkMode; nat: boolean };
}

/** Accelerator, then bridge availability, then driver. Throws `unavailable` saying what is missing. */
export function chooseHypervisor(h: HostFacts): HypervisorChoice {
  const accel = decideAccel({ requested: h.accel, ...h.kvm });
  const bridge = bridgeAvailability({ root: h.root, helper: h.helper });
  const driver = decideDriver({ requested: h.hypervisor, accel: accel.accel, drivers: h.drivers, bridge });
  const userNet = h.drivers.find((d) => d.name === driver.name)?.userNetworking ?? false;
  return {
    accel: accel.accel,
    accelReason: accel.reason,
    driver: driver.name,
    driverReason: driver.reason,
    bridge,
    defaultNetwork: userNet ? { mode: 'user', nat: false } : { mode: 'bridge', nat: true },
  };
}

export interface NetworkAsk {
  /** What the VM asked for; undefined = the default. */
  mode?: NetworkMode;
  nat?: boolean;
}

/** The network mode and NAT a new VM gets under `choice`, or a `bad_request`/`unavailable` saying why not. */
export function vmNetworkFor(choice: Pick<HypervisorChoice, 'driver' | 'bridge' | 'defaultNetwork'>, ask: NetworkAsk): { mode: NetworkMode; nat: boolean } {
  const mode = ask.mode ?? choice.defaultNetwork.mode;
  if (mode === 'user' && choice.defaultNetwork.mode !== 'user') {
    throw new BangerError(
      'bad_request',
      `this banger runs VMs with ${choice.driver}, which has no user-mode networking; drop --network user (VMs get a bridge with NAT), or set hypervisor = "qemu" in config.toml`,
    );
  }
  if (mode === 'bridge' && !choice.bridge.available) {
    throw new BangerError('unavailable', NEEDS_HELPER);
  }
  const nat = ask.nat ?? (ask.mode === undefined ? choice.defaultNetwork.nat : false);
  return { mode, nat };
}
