import { describe, expect, it } from 'vitest';
import { ExportOutputParser } from './exportframe.js';

const BASE = 'f'.repeat(40);

function parse(chunks: Array<string | Buffer>, maxPatchBytes = 1 << 20) {
  const patch: Buffer[] = [];
  const p = new ExportOutputParser({ vm: 'web', maxPatchBytes, onPatch: (c) => patch.push(c) });
  for (const c of chunks) p.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return { header: p.end(), patch: Buffer.concat(patch).toString(), bytes: p.patchBytes };
}

describe('ExportOutputParser', () => {
  it('reads base, names and patch', () => {
    const r = parse([`${BASE}\na\0new\nline\0\0diff --git a/a b/a\n`]);
    expect(r.header).toEqual({ base: BASE, files: ['a', 'new\nline'] });
    expect(r.patch).toBe('diff --git a/a b/a\n');
    expect(r.bytes).toBe(19);
  });

  it('handles no changes', () => {
    expect(parse([`${BASE}\n\0`])).toEqual({ header: { base: BASE, files: [] }, patch: '', bytes: 0 });
  });

  it('is indifferent to how the output is chunked', () => {
    const whole = `${BASE}\nx y\0z\0\0PATCH\0BODY`;
    const bytes = Buffer.from(whole);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const r = parse([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(r.header.files).toEqual(['x y', 'z']);
      expect(r.patch).toBe('PATCH\0BODY');
    }
    const oneByOne = parse([...bytes].map((b) => Buffer.from([b])));
    expect(oneByOne.header.files).toEqual(['x y', 'z']);
  });

  it.each([
    [`${BASE}\n../../etc/passwd\0\0`, /unsafe path "..\/..\/etc\/passwd"/],
    [`${BASE}\n.git/hooks/pre-commit\0\0`, /inside \.git/],
    [`${BASE}\n/abs\0\0`, /absolute/],
    [`not-a-sha\n\0`, /not a commit id/],
  ])('refuses %j before passing any patch on', (out, why) => {
    const seen: Buffer[] = [];
    const p = new ExportOutputParser({ vm: 'web', maxPatchBytes: 100, onPatch: (c) => seen.push(c) });
    expect(() => p.push(Buffer.from(`${out}diff`))).toThrow(why);
    expect(seen).toEqual([]);
  });

  it('refuses output that never ends the header, and patches over the limit', () => {
    const p = new ExportOutputParser({ vm: 'web', maxPatchBytes: 100 });
    expect(() => p.push(Buffer.from('x'.repeat(300)))).toThrow(/base commit line is missing/);
    const q = new ExportOutputParser({ vm: 'web', maxPatchBytes: 4, onPatch: () => {} } as never);
    expect(() => q.push(Buffer.from(`${BASE}\na\x00\x0012345`))).toThrow(/larger than 4 bytes/);
    const r = new ExportOutputParser({ vm: 'web', maxPatchBytes: 4, onPatch: () => {} });
    r.push(Buffer.from(`${BASE}\na\0`));
    expect(() => r.end()).toThrow(/ended before the list of changed files/);
  });
});
