import { describe, expect, it } from 'vitest';
import { KeyedMutex, SingleFlight } from './locks.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedMutex', () => {
  it('runs holders of one key one at a time, in order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (n: string) =>
      m.with('vm1', async () => {
        log.push(`start ${n}`);
        await tick();
        log.push(`end ${n}`);
      });
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('does not serialize different keys', async () => {
    const m = new KeyedMutex();
    let inside = 0;
    let max = 0;
    await Promise.all(
      ['a', 'b'].map((k) =>
        m.with(k, async () => {
          inside++;
          max = Math.max(max, inside);
          await tick();
          inside--;
        }),
      ),
    );
    expect(max).toBe(2);
  });

  it('releases the lock when the holder throws', async () => {
    const m = new KeyedMutex();
    await expect(m.with('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(m.isHeld('k')).toBe(false);
    await expect(m.with('k', async () => 7)).resolves.toBe(7);
  });
});

describe('SingleFlight', () => {
  it('shares one run between concurrent callers and starts fresh afterwards', async () => {
    const sf = new SingleFlight();
    let runs = 0;
    const fn = async () => {
      runs++;
      await tick();
      return runs;
    };
    const [a, b] = await Promise.all([sf.run('img', fn), sf.run('img', fn)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(await sf.run('img', fn)).toBe(2);
  });
});
