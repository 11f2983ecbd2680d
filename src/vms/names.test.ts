import { describe, expect, it } from 'vitest';
import { NAME_PATTERN } from '../api/names.js';
import { Name } from '../api/names.js';
import { generateName } from './names.js';

describe('names', () => {
  it.each(['a', 'web-1', 'x'.repeat(63), '0abc'])('accepts %j', (n) => expect(Name.safeParse(n).success).toBe(true));
  it.each(['', '-a', 'a-', 'A', 'a_b', 'a.b', 'x'.repeat(64), 'é'])('rejects %j', (n) => expect(Name.safeParse(n).success).toBe(false));
  it('generates valid names that avoid taken ones', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const n = generateName((x) => taken.has(x));
      expect(n).toMatch(NAME_PATTERN);
      expect(taken.has(n)).toBe(false);
      taken.add(n);
    }
  });
  it('gives up clearly when every name is taken', () => {
    expect(() => generateName(() => true)).toThrow(/--name/);
  });
});
