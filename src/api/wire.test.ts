import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LineDecoder, WIRE_LIMITS } from './wire.js';

describe('LineDecoder', () => {
  const cases: Array<{ name: string; chunks: Array<string | Buffer>; max?: number; lines: string[]; overflowed?: boolean; buffered?: number }> = [
    { name: 'one line', chunks: ['{"a":1}\n'], lines: ['{"a":1}'] },
    { name: 'two lines in one chunk, empty lines skipped', chunks: ['a\n\nb\n'], lines: ['a', 'b'] },
    { name: 'a line split over chunks', chunks: ['ab', 'c', 'd\ne'], lines: ['abcd'], buffered: 1 },
    { name: 'a multi-byte character split between chunks', chunks: [Buffer.from([0xc3]), Buffer.from([0xa9, 0x0a])], lines: ['é'] },
    { name: 'exactly the cap', chunks: ['abcd', '\n'], max: 4, lines: ['abcd'] },
    { name: 'one over the cap without a newline', chunks: ['abc', 'de'], max: 4, lines: [], overflowed: true, buffered: 0 },
    { name: 'one over the cap with its newline', chunks: ['abcde\n'], max: 4, lines: [], overflowed: true },
    { name: 'lines before an overflow are kept', chunks: ['ok\nabcdefgh'], max: 4, lines: ['ok'], overflowed: true },
    { name: 'nothing is decoded after an overflow', chunks: ['abcdefgh', '\nok\n'], max: 4, lines: [], overflowed: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = new LineDecoder(c.max);
      const lines = c.chunks.flatMap((ch) => d.push(ch));
      expect(lines).toEqual(c.lines);
      expect(d.overflowed).toBe(c.overflowed ?? false);
      if (c.buffered !== undefined) expect(d.bufferedBytes).toBe(c.buffered);
    });
  }

  it('scans each byte once: a 48 MiB line without a newline is refused in well under a second', () => {
    const d = new LineDecoder(WIRE_LIMITS.maxRequestFrameBytes);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const t0 = performance.now();
    for (let i = 0; i < (48 * 1024 * 1024) / chunk.length; i++) d.push(chunk);
    expect(d.overflowed).toBe(true);
    expect(d.bufferedBytes).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('holds a long unfinished line in linear time (chunks are not re-scanned)', () => {
    const d = new LineDecoder(64 * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const t0 = performance.now();
    for (let i = 0; i < 512; i++) d.push(chunk); // 32 MiB, no newline
    const lines = d.push('\n');
    expect(lines[0]).toHaveLength(32 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

/**
 * Fuzz: random, garbage, huge and split frames through the daemon's decoder with its real cap.
 * Bounded: a fixed budget of bytes and a deadline; asserts it never throws, never holds more than
 * the cap, and reports the worst push time and the peak RSS.
 */
describe('LineDecoder fuzz (bounded time and memory)', () => {
  it('never throws, never buffers past the cap, finishes within the bound', () => {
    const cap = WIRE_LIMITS.maxRequestFrameBytes;
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const frame = () => {
      switch (rand(6)) {
        case 0:
          return Buffer.from(`${JSON.stringify({ v: 1, method: 'vm.list', params: {} })}\n`);
        case 1:
          return Buffer.from(`${JSON.stringify({ stdin: randomBytes(rand(300_000)).toString('base64') })}\n`);
        case 2:
          return randomBytes(rand(70_000)); // garbage, newlines wherever they fall
        case 3:
          return Buffer.alloc(rand(3 * cap), 0x7b); // huge, often over the cap, no newline
        case 4:
          return Buffer.from('\n'.repeat(rand(50)));
        default:
          return Buffer.from(`{"stdin":"${'A'.repeat(rand(cap + 10))}"}\n`); // around the cap
      }
    };
    const budgetBytes = 384 * 1024 * 1024;
    const deadline = performance.now() + 60_000;
    let fed = 0;
    let worstPushMs = 0;
    let decoders = 0;
    let peakRss = process.memoryUsage().rss;
    const t0 = performance.now();
    while (fed < budgetBytes && performance.now() < deadline) {
      const d = new LineDecoder(cap); // one connection's worth
      decoders++;
      for (let f = 0; f < 40 && !d.overflowed; f++) {
        const bytes = frame();
        fed += bytes.length;
        // split at random points, as a socket would
        for (let i = 0; i < bytes.length; ) {
          const n = 1 + rand(Math.min(bytes.length - i, 1 + rand(128 * 1024)));
          const t = performance.now();
          let lines: string[] = [];
          expect(() => (lines = d.push(bytes.subarray(i, i + n)))).not.toThrow();
          worstPushMs = Math.max(worstPushMs, performance.now() - t);
          for (const l of lines) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(cap * 2); // utf8 replacement may widen garbage
          expect(d.bufferedBytes).toBeLessThanOrEqual(cap);
          i += n;
        }
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`wire fuzz: ${decoders} connections, ${(fed / 1024 / 1024).toFixed(0)} MiB in ${seconds.toFixed(1)} s; worst push ${worstPushMs.toFixed(1)} ms; peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);
    expect(fed).toBeGreaterThan(64 * 1024 * 1024);
    expect(worstPushMs).toBeLessThan(500);
    expect(peakRss).toBeLessThan(1024 * 1024 * 1024);
  }, 90_000);
});
