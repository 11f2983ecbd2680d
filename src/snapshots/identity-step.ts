/**
 * The identity step on a live guest: runs identity.ts's script over the VM's SSH session and
 * records the new host key. Two callers: every restore (snapshots/service.ts `refresh`), and a
 * start whose guest presents its pre-identity key (guest/knownhosts.ts): its disk lost the step,
 * so it runs again with a new key. Each run leaves the identity synced on the guest's disk before
 * the key is recorded, so a kill right after it cannot bring the old key back.
 */
import { randomBytes } from 'node:crypto';
import { BangerError } from '../api/errors.js';
import { noProgress, type Progress } from '../api/progress.js';
import { aliasFor } from '../guest/knownhosts.js';
import type { Logger } from '../host/logger.js';
import type { GuestSession } from '../guest/access.js';
import { macFor } from '../network/ipalloc.js';
import { generateHostKey } from './hostkey.js';
import { ENTROPY_BYTES, identityCommand, newMachineId, parseIdentityReport } from './identity.js';

export interface IdentityStepDeps {
  /** Records `publicKeyLine` as the alias's host key (the old one becomes its pre-identity key). */
  trustHostKey(alias: string, publicKeyLine: string): Promise<void>;
  log: Logger;
}

/**
 * `fresh`: new host name, machine-id, MAC and host key (a new VM, or one whose disk lost them);
 * otherwise randomness and clock only (a VM resuming as itself). Resolves with the time the guest
 * script took, in ms.
 */
export async function applyIdentity(
  session: GuestSession,
  vm: { id: string; name: string },
  fresh: boolean,
  deps: IdentityStepDeps,
  progress: Progress = noProgress,
): Promise<number> {
  progress('identity', fresh ? 'new host name, machine-id, MAC and SSH host key; reseeding randomness' : 'reseeding randomness and setting the clock');
  const hostKey = fresh ? generateHostKey(`root@${vm.name}`) : undefined;
  const cmd = identityCommand({
    nowMs: Date.now(),
    entropy: randomBytes(ENTROPY_BYTES),
    fresh: hostKey ? { hostname: vm.name, machineId: newMachineId(), mac: macFor(vm.id), hostKey } : undefined,
  });
  const t0 = Date.now();
  const r = await session.run(cmd.argv, { stdin: cmd.stdin, timeoutMs: 30_000 });
  const ms = Date.now() - t0;
  const report = parseIdentityReport(r.stdout);
  if (r.code !== 0 || !report.done) {
    throw new BangerError('internal', `the identity script exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 300) || r.stdout.trim().slice(0, 300)}`);
  }
  deps.log.info({ vm: vm.name, fresh, ms, synced: report.synced }, 'identity applied');
  if (!report.reseeded) {
    deps.log.warn({ vm: vm.name }, 'guest has no perl: entropy mixed in, CRNG not reseeded at once');
    progress('identity', 'warning: the guest cannot reseed its random generator at once (no perl); it reseeds on its own within a minute');
  }
  if (hostKey && !report.synced) deps.log.warn({ vm: vm.name }, 'the guest did not confirm its new identity reached the disk');
  // The new key was learned over this already verified session: record it for the VM's alias.
  if (hostKey) await deps.trustHostKey(aliasFor(vm.name), hostKey.publicLine);
  return ms;
}
