import { describe, expect, it } from 'vitest';
import { deriveState } from './inspect.js';

describe('deriveState', () => {
  it.each([
    ['running', true, true, 'running', 'none'],
    ['running', true, false, 'stopped', 'mark-stopped'],
    ['running', false, false, 'stopped', 'mark-stopped'],
    ['stopped', false, false, 'stopped', 'none'],
    ['stopped', true, true, 'running', 'adopt'],
    ['starting', true, true, 'starting', 'none'],
    ['starting', true, false, 'stopped', 'mark-stopped'],
    ['stopping', true, false, 'stopped', 'mark-stopped'],
  ] as const)('stored %s, handles %s, alive %s → %s (%s)', (stored, hasHandles, processAlive, state, action) => {
    const d = deriveState(stored, { hasHandles, processAlive });
    expect(d.state).toBe(state);
    expect(d.action).toBe(action);
    if (action === 'mark-stopped') expect(d.reasons.length).toBeGreaterThan(0);
  });

  it.each([
    ['running', 'broken', 'mark-broken'],
    ['stopped', 'broken', 'mark-broken'],
    ['broken', 'broken', 'none'],
  ] as const)('a corrupt handles.json: stored %s → %s (%s), with the reason', (stored, state, action) => {
    const d = deriveState(stored, { hasHandles: false, processAlive: false, handlesProblem: 'handles.json is not JSON' });
    expect(d.state).toBe(state);
    expect(d.action).toBe(action);
    expect(d.reasons).toEqual(['handles.json is not JSON']);
  });
});
