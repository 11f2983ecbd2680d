import { describe, expect, it } from 'vitest';
import { GROUP_OF, schemasFor } from './lazymethods.js';
import { methods, type MethodName } from './methods.js';

describe('schemasFor (one method group, loaded on use)', () => {
  it('names every method of the table, and nothing else', () => {
    expect(Object.keys(GROUP_OF).sort()).toEqual(Object.keys(methods).sort());
  });

  it("leads each method to the very schemas api/methods.ts holds for it", async () => {
    for (const name of Object.keys(methods) as MethodName[]) {
      const table = await schemasFor(name);
      expect(table[name], name).toBe(methods[name]);
    }
  });

  it('refuses a name that is no method', async () => {
    await expect(schemasFor('vm.nosuch' as MethodName)).rejects.toThrow(/no API method "vm.nosuch"/);
  });
});
