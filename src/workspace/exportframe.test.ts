import { describe, expect, it } from 'vitest';
import { ExportOutputParser } from './exportframe.js';

const BASE = 'f'.repeat(40);
const meta = (status = 'M') => `:100644 100644 ${'1'.repeat(40)} ${'0'.repeat(40)} ${status}\x00`;
const raw = (...paths: string[]) => paths.map((p) => `${meta()}${p}\x00`).join('');

function parse(chunks: Array<string | Buffer>, maxPatchBytes = 1 << 20) {
  const patch: Buffer[] = [];
  const p = new ExportOutputParser({ vm: 'web', maxPatchBytes, onPatch: (c) => patch.push(c) });
  for (const c of chunks) p.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return { header: p.end(), patch: Buffer.concat(patch).toString(), bytes: p.patchBytes };
}

describe('ExportOutputParser', () => {
  it('reads base, raw records and the patch after the separator', () => {
    const r = parse([`${BASE}\n${raw('a', 'new\nline')}\x00diff --git a/a b/a\n`]);
    expect(r.header).toEqual({ base: BASE, files: ['a', 'new\nline'] });
    expect(r.patch).toBe('diff --git a/a b/a\n');
    expect(r.bytes).toBe(19);
  });

  it('handles no changes (git prints nothing) and names without a patch', () => {
    expect(parse([`${BASE}\n`])).toEqual({ header: { base: BASE, files: [] }, patch: '', bytes: 0 });
    expect(parse([`${BASE}\n${raw('x', 'y z')}`]).header.files).toEqual(['x', 'y z']);
  });

  it('is indifferent to how the output is chunked', () => {
    const bytes = Buffer.from(`${BASE}\n${raw('x y', 'z')}\x00PATCH\x00BODY`);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const r = parse([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(r.header.files).toEqual(['x y', 'z']);
      expect(r.patch).toBe('PATCH\x00BODY');
    }
    const oneByOne = parse([...bytes].map((b) => Buffer.from([b])));
    expect(oneByOne.header.files).toEqual(['x y', 'z']);
    expect(oneByOne.patch).toBe('PATCH\x00BODY');
  });

  it.each([
    [`${BASE}\n${raw('../../etc/passwd')}\x00`, /unsafe path "..\/..\/etc\/passwd"/],
    [`${BASE}\n${raw('.git/hooks/pre-commit')}\x00`, /inside \.git/],
    [`${BASE}\n${raw('/abs')}\x00`, /absolute/],
    [`${BASE}\nnot-a-record\x00`, /unexpected diff record/],
    [`not-a-sha\n`, /not a commit id/],
  ])('refuses %j before passing any patch on', (out, why) => {
    const seen: Buffer[] = [];
    const p = new ExportOutputParser({ vm: 'web', maxPatchBytes: 100, onPatch: (c) => seen.push(c) });
    expect(() => p.push(Buffer.from(`${out}diff`))).toThrow(why);
    expect(seen).toEqual([]);
  });

  it('refuses output that never ends the header, truncated records, and patches over the limit', () => {
    const p = new ExportOutputParser({ vm: 'web', maxPatchBytes: 100, onPatch: () => {} });
    expect(() => p.push(Buffer.from('x'.repeat(300)))).toThrow(/base commit line is missing/);
    const q = new ExportOutputParser({ vm: 'web', maxPatchBytes: 4, onPatch: () => {} });
    expect(() => q.push(Buffer.from(`${BASE}\n${raw('a')}\x0012345`))).toThrow(/larger than 4 bytes/);
    const r = new ExportOutputParser({ vm: 'web', maxPatchBytes: 4, onPatch: () => {} });
    r.push(Buffer.from(`${BASE}\n${meta()}`));
    expect(() => r.end()).toThrow(/ended in the middle of the list/);
    const s = new ExportOutputParser({ vm: 'web', maxPatchBytes: 4, onPatch: () => {} });
    expect(() => s.end()).toThrow(/ended in the middle/);
  });
});
