/**
 * Status is derived in one place: stored intent (the row) combined with live facts (handles,
 * is the process ours and alive). Reconcile at daemon start uses the same function.
 */
import type { VmState } from '../api/vm.js';

export interface LiveFacts {
  hasHandles: boolean;
  processAlive: boolean;
}

export interface Derived {
  state: VmState;
  reasons: string[];
  /** What reconcile should do about a disagreement. */
  action: 'none' | 'mark-stopped' | 'adopt';
}

export function deriveState(stored: VmState, live: LiveFacts): Derived {
  const transient = stored === 'starting' || stored === 'stopping';
  if (live.processAlive) {
    if (stored === 'running') return { state: 'running', reasons: [], action: 'none' };
    if (transient) return { state: stored, reasons: [], action: 'none' };
    // Alive but recorded as stopped/broken: a VM that outlived a daemon crash mid-operation. Adopt it.
    return { state: 'running', reasons: [], action: 'adopt' };
  }
  if (stored === 'running' || transient) {
    return {
      state: 'stopped',
      reasons: [live.hasHandles ? 'the hypervisor process exited' : 'no process record'],
      action: 'mark-stopped',
    };
  }
  if (stored === 'broken') return { state: 'broken', reasons: ['marked broken'], action: 'none' };
  return { state: 'stopped', reasons: [], action: 'none' };
}
