import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { methods, type MethodName } from './methods.js';
import { Deleted } from './results.js';

const names = Object.keys(methods) as MethodName[];

describe('one shape per kind of result', () => {
  it.each(names.filter((n) => /\.(list|stats)$/.test(n)))('%s returns { <plural>: [...] }', (name) => {
    const r = methods[name].result;
    expect(r).toBeInstanceOf(z.ZodObject);
    const shape = (r as z.ZodObject).shape as Record<string, z.ZodType>;
    const lists = Object.entries(shape).filter(([, s]) => s instanceof z.ZodArray);
    expect(lists.length).toBeGreaterThanOrEqual(1);
    expect(lists[0][0]).toMatch(/s$/);
  });

  it.each(names.filter((n) => n.endsWith('.delete')))('%s returns { name, id }', (name) => {
    expect(methods[name].result).toBe(Deleted);
  });
});
