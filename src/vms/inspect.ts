/**
 * Status is derived in one place: stored intent (the row) combined with live facts (handles,
 * is the process ours and alive). Reconcile at daemon start uses the same function.
 */
import type { VmState } from '../api/vm.js';

export interface LiveFacts {
  hasHandles: boolean;
  processAlive: boolean;
  /** Why handles.json could not be read (it then counts as missing), or absent. */
  handlesProblem?: string | null;
}

export interface Derived {
  state: VmState;
  reasons: string[];
  /** What reconcile should do about a disagreement. */
  action: 'none' | 'mark-stopped' | 'mark-broken' | 'adopt';
}

export function deriveState(stored: VmState, live: LiveFacts): Derived {
  const transient = stored === 'starting' || stored === 'stopping';
  // A corrupt handles.json: the process (if any) is unknown. Broken, with the reason, until a
  // stop, start or delete replaces or removes the file.
  if (live.handlesProblem && !live.processAlive) {
    return { state: 'broken', reasons: [live.handlesProblem], action: stored === 'broken' ? 'none' : 'mark-broken' };
  }
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
