/**
 * BridgeOps through bangerd-root: each host change is one typed call to the root helper (rootd/api.ts),
 * which checks the values and runs the same ops as root. Used by a bangerd that is not root.
 */
import { callHelper } from '../rootd/client.js';
import type { BridgeOps } from './bridge.js';

export function createHelperOps(socketPath: string): BridgeOps {
  return {
    async ensureBridge(bridge, gatewayCidr) {
      await callHelper(socketPath, 'bridge.ensure', { bridge, gatewayCidr });
    },
    removeBridgeIfIdle: async (bridge) => (await callHelper(socketPath, 'bridge.removeIfIdle', { bridge })).removed,
    ensureTap: async (vmId, bridge, guard) => (await callHelper(socketPath, 'tap.ensure', { vmId, bridge, ...guard })).tap,
    async removeTap(tap) {
      await callHelper(socketPath, 'tap.remove', { tap });
    },
    listTaps: async () => (await callHelper(socketPath, 'tap.list', {})).taps,
    async ensureNat(t) {
      await callHelper(socketPath, 'nat.ensure', { vmId: t.vmId, ip: t.ip, bridge: t.bridge });
    },
    async removeNat(vmId) {
      await callHelper(socketPath, 'nat.remove', { vmId });
    },
    listRules: async () => (await callHelper(socketPath, 'rules.list', {})).rules,
    async enableForwarding() {
      await callHelper(socketPath, 'forwarding.enable', {});
    },
  };
}
