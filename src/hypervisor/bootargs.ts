/** Builds the guest kernel command line (the boot contract read by the initramfs /init). Pure. */
import type { Accel } from '../api/enums.js';
import { BangerError } from '../api/errors.js';

export interface BootArgsInput {
  hostname: string;
  /** base64 blob of the ed25519 public key */
  sshKeyBlob: string;
  net: { ip: string; prefix: number; gateway: string; dns: string } | null;
  accel: Accel;
}

const SAFE = /^[A-Za-z0-9+/=._:-]+$/;

export function buildBootArgs(input: BootArgsInput): string {
  const words = ['console=ttyS0', 'quiet', 'root=/dev/vda', 'rw'];
  // Under TCG the guest cannot calibrate its TSC quickly; these save seconds of boot (DESIGN.md).
  if (input.accel === 'tcg') words.push('tsc_early_khz=2300000', 'tsc=reliable');
  const put = (key: string, value: string) => {
    if (!SAFE.test(value)) throw new BangerError('bad_request', `boot argument ${key} has characters the kernel command line cannot carry: ${JSON.stringify(value)}`);
    words.push(`${key}=${value}`);
  };
  put('banger.hostname', input.hostname);
  put('banger.key', input.sshKeyBlob);
  if (input.net) {
    put('banger.ip', `${input.net.ip}/${input.net.prefix}`);
    put('banger.gw', input.net.gateway);
    put('banger.dns', input.net.dns);
  }
  return words.join(' ');
}

/** QEMU user-mode networking's fixed addresses (defined in hypervisor/usernet.ts). */
export { USER_NET } from './usernet.js';
