import { describe, expect, it } from 'vitest';
import { onCommand, run, spawnProcess } from './exec.js';

describe('every command is reported to whoever subscribed', () => {
  it('each subscriber sees run and spawnProcess argv, until it unsubscribes', async () => {
    const a: string[][] = [];
    const b: string[][] = [];
    const offA = onCommand((argv) => a.push([...argv]));
    const offB = onCommand((argv) => b.push([...argv]));
    await run(['true']);
    await spawnProcess(['sh', '-c', 'exit 3']).exit;
    offA();
    await run(['echo', 'late']);
    offB();
    await run(['echo', 'unseen']);
    expect(a).toEqual([['true'], ['sh', '-c', 'exit 3']]);
    expect(b).toEqual([['true'], ['sh', '-c', 'exit 3'], ['echo', 'late']]);
  });

  it('reports the netns wrapper as run', async () => {
    const seen: string[][] = [];
    const off = onCommand((argv) => seen.push([...argv]));
    await run(['true'], { netns: 'banger-no-such-ns', check: false });
    off();
    expect(seen).toEqual([['ip', 'netns', 'exec', 'banger-no-such-ns', 'true']]);
  });
});
