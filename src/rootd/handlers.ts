/**
 * bangerd-root's handlers: each verb checks its values (rootd/validate.ts, and the bridge's alias on
 * the host) and then calls the same BridgeOps the root daemon uses in-process (network/bridge.ts),
 * built strict: only this install's bridge, taps owned by the owner, rules tagged with the install id.
 */
import { BangerError } from '../api/errors.js';
import type { TableHandlers } from '../daemon/dispatch.js';
import type { Logger } from '../host/logger.js';
import { bridgeAlias, bridgeUsable, tapName, type HostBridgeOps } from '../network/bridge.js';
import { installResolved, uninstallResolved, type ResolvedHost } from '../network/resolved.js';
import type { HelperMethods } from './api.js';
import type { JailerRunner } from './jailer.js';
import { checkBridgeName, checkGateway, checkGuestIp, checkResolverHost, checkTap } from './validate.js';

export interface HelperConfig {
  version: string;
  installId: string;
  ownerUid: number;
  ownerGid: number;
  cidr: string;
  socket: string;
  jailerBase: string;
}

export interface HelperDeps {
  config: HelperConfig;
  ops: HostBridgeOps;
  resolved: ResolvedHost;
  jailer: JailerRunner;
  log: Logger;
}

const ok = { ok: true as const };

export function helperHandlers(d: HelperDeps): TableHandlers<HelperMethods> {
  const { config, ops } = d;

  /** The bridge a tap or rule refers to must exist and be this install's. */
  async function claimedBridge(bridge: string): Promise<void> {
    checkBridgeName(bridge);
    const l = await ops.link(bridge);
    if (!l || l.ifalias !== bridgeAlias(config.installId)) {
      throw new BangerError('bad_request', l ? `bridge ${bridge} was not created by this banger install (alias ${JSON.stringify(l.ifalias ?? '')})` : `bridge ${bridge} does not exist; call bridge.ensure first`);
    }
  }

  return {
    'helper.status': () => ({
      version: config.version,
      pid: process.pid,
      installId: config.installId,
      ownerUid: config.ownerUid,
      ownerGid: config.ownerGid,
      cidr: config.cidr,
      jailerBase: config.jailerBase,
    }),
    'bridge.ensure': async (p) => {
      checkBridgeName(p.bridge);
      checkGateway(config.cidr, p.gatewayCidr);
      // Refused here (not only in ops) so the message names the helper's rule.
      if (!bridgeUsable(await ops.link(p.bridge), config.installId, true)) {
        throw new BangerError('bad_request', `bridge ${p.bridge} exists and was not created by this banger install; bangerd-root only uses a bridge it created (set [network] bridge to an unused name)`);
      }
      await ops.ensureBridge(p.bridge, p.gatewayCidr);
      return ok;
    },
    'bridge.removeIfIdle': async (p) => {
      checkBridgeName(p.bridge);
      return { removed: await ops.removeBridgeIfIdle(p.bridge) };
    },
    'tap.ensure': async (p) => {
      await claimedBridge(p.bridge);
      if ((p.ip === undefined) !== (p.mac === undefined)) throw new BangerError('bad_request', 'tap.ensure takes ip and mac together (the guard binds the tap to both)');
      if (p.ip !== undefined) checkGuestIp(config.cidr, p.ip);
      const tap = await ops.ensureTap(p.vmId, p.bridge, p.ip !== undefined ? { ip: p.ip, mac: p.mac! } : undefined);
      if (tap !== tapName(p.vmId)) throw new BangerError('internal', `tap ${tap} does not derive from ${p.vmId}`);
      return { tap };
    },
    'tap.remove': async (p) => {
      checkTap(p.tap);
      await ops.removeTap(p.tap);
      return ok;
    },
    'tap.list': async () => ({ taps: await ops.listTaps() }),
    'nat.ensure': async (p) => {
      checkGuestIp(config.cidr, p.ip);
      await claimedBridge(p.bridge);
      await ops.ensureNat(p);
      return ok;
    },
    'nat.remove': async (p) => {
      await ops.removeNat(p.vmId);
      return ok;
    },
    'rules.list': async () => ({ rules: await ops.listRules() }),
    'forwarding.enable': async () => {
      await ops.enableForwarding();
      return ok;
    },
    'resolver.wire': (p) => {
      checkResolverHost(p.host);
      return installResolved(d.resolved, p);
    },
    'resolver.unwire': () => uninstallResolved(d.resolved),
    'jailer.spawn': (p) => d.jailer.spawn(p),
    'jailer.clean': async (p) => {
      await d.jailer.clean(p);
      return ok;
    },
  };
}
