/**
 * The export frame parser against a hostile guest: inputs that cost the daemon time or memory
 * (an unterminated record, a header at its limit, one-byte chunks) and a seeded random fuzz of
 * mutated and re-chunked outputs. Every input must end in a clear refusal or a safe header, in
 * bounded time; the worst case and the peak RSS are printed for the report.
 */
import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { unsafePathReason } from './gitlist.js';
import { ExportOutputParser, MAX_EXPORT_RECORD_BYTES } from './exportframe.js';

const BASE = 'a'.repeat(40);
const META = `:100644 100644 ${'1'.repeat(40)} ${'0'.repeat(40)} M\x00`;
const MiB = 1024 * 1024;

/** Feeds `total` bytes of `fill` (after `prefix`) in `chunk`-sized pieces; returns the error and elapsed ms. */
function feed(prefix: string, fill: number, total: number, chunk: number, maxPatchBytes = 512 * MiB) {
  const p = new ExportOutputParser({ vm: 'evil', maxPatchBytes, onPatch: () => {} });
  const t0 = performance.now();
  let err: unknown = null;
  try {
    p.push(Buffer.from(prefix));
    const piece = Buffer.alloc(chunk, fill);
    for (let sent = 0; sent < total; sent += chunk) p.push(piece);
    p.end();
  } catch (e) {
    err = e;
  }
  return { err, ms: performance.now() - t0 };
}

describe('export frame parser: bounded cost on hostile output', () => {
  it('refuses one unterminated record as soon as it passes the record limit (65 MiB used to block the daemon for 47.6 s)', () => {
    const { err, ms } = feed(`${BASE}\n${META}`, 0x61, 65 * MiB, 64 * 1024);
    expect(err).toBeInstanceOf(BangerError);
    expect((err as Error).message).toMatch(/one record of the list of changed files is too long/);
    console.log(`65 MiB unterminated record: refused in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
  });

  it('a record just under the limit, in one-byte chunks, is read in linear time', () => {
    const path = 'p'.repeat(MAX_EXPORT_RECORD_BYTES - 1);
    const bytes = Buffer.from(`${BASE}\n${META}${path}\x00`);
    const p = new ExportOutputParser({ vm: 'evil', maxPatchBytes: 1, onPatch: () => {} });
    const t0 = performance.now();
    for (let i = 0; i < bytes.length; i++) p.push(bytes.subarray(i, i + 1));
    expect(p.end().files).toEqual([path]);
    const ms = performance.now() - t0;
    console.log(`64 KiB record in one-byte chunks: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(2000);
  });

  it('a header at its 64 MiB limit (valid records) costs linear time; one byte more is refused', () => {
    const rec = `${META}${'d/'.repeat(2000)}f\x00`;
    const count = Math.floor((64 * MiB - 41) / rec.length);
    const all = Buffer.from(`${BASE}\n${rec.repeat(count)}`);
    const rss0 = process.memoryUsage().rss;
    const p = new ExportOutputParser({ vm: 'evil', maxPatchBytes: 1, onPatch: () => {} });
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 65_536) p.push(all.subarray(i, i + 65_536));
    expect(p.end().files).toHaveLength(count);
    const ms = performance.now() - t0;
    console.log(`64 MiB header (${count} records, 64 KiB chunks): ${ms.toFixed(0)} ms, rss +${((process.memoryUsage().rss - rss0) / MiB).toFixed(0)} MiB`);
    expect(ms).toBeLessThan(15_000);
    const { err } = feed(`${BASE}\n`, 0x3a, 65 * MiB, 65_536); // ':' bytes: a meta record that never ends
    expect((err as Error).message).toMatch(/too long/);
  });

  it('the patch limit is checked before a chunk is passed on', () => {
    const seen: number[] = [];
    const p = new ExportOutputParser({ vm: 'evil', maxPatchBytes: 10, onPatch: (c) => seen.push(c.length) });
    p.push(Buffer.from(`${BASE}\n${META}a\x00\x00123456`));
    expect(() => p.push(Buffer.from('78901'))).toThrow(/larger than 10 bytes/);
    expect(seen).toEqual([6]);
  });
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['\x00', '\n', ':', '..', '/', '.git', 'a', BASE, META, '\x00\x00', 'ü', '\\', '/etc/passwd', 'diff --git a/x b/x\n'];

describe('export frame parser: seeded fuzz', () => {
  it('every input ends in a BangerError or a header of safe paths, each within a bounded time', () => {
    const runs = 3000;
    let worst = 0;
    let refused = 0;
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    for (let seed = 1; seed <= runs; seed++) {
      const r = rng(seed);
      // Start from a valid output, then mutate it.
      const files = Array.from({ length: Math.floor(r() * 5) }, (_, i) => `f${i}${r() < 0.2 ? ' x' : ''}`);
      let text = `${BASE}\n${files.map((f) => `${META}${f}\x00`).join('')}${r() < 0.5 ? '\x00diff --git a/f b/f\n' : ''}`;
      const edits = Math.floor(r() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (text.length + 1));
        const op = r();
        if (op < 0.4) text = text.slice(0, at) + PIECES[Math.floor(r() * PIECES.length)] + text.slice(at);
        else if (op < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 8));
        else if (op < 0.85) text = text.slice(0, at) + 'x'.repeat(Math.floor(r() * 3 * MAX_EXPORT_RECORD_BYTES)) + text.slice(at);
        else text = text.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + text.slice(at + 1);
      }
      const bytes = Buffer.from(text, 'latin1');
      const p = new ExportOutputParser({ vm: 'fuzz', maxPatchBytes: 1024, maxHeaderBytes: 256 * 1024, onPatch: () => {} });
      const t0 = performance.now();
      try {
        let i = 0;
        while (i < bytes.length) {
          const n = 1 + Math.floor(r() * (r() < 0.3 ? 4 : 70_000));
          p.push(bytes.subarray(i, i + n));
          i += n;
        }
        const h = p.end();
        for (const f of h.files) expect(unsafePathReason(f), `seed ${seed}: ${JSON.stringify(f)}`).toBeNull();
        expect(h.base).toMatch(/^[0-9a-f]{40}/);
      } catch (err) {
        if (!(err instanceof BangerError)) throw new Error(`seed ${seed}: ${String(err)}`);
        refused++;
      }
      worst = Math.max(worst, performance.now() - t0);
      if (seed % 100 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    console.log(
      `fuzz: ${runs} inputs, ${refused} refused, worst ${worst.toFixed(1)} ms per input, rss ${(rssStart / MiB).toFixed(0)} → peak ${(rssPeak / MiB).toFixed(0)} MiB (process maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`,
    );
    expect(worst).toBeLessThan(500);
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(runs);
  });
});
