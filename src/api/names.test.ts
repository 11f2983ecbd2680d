import { describe, expect, it } from 'vitest';
import { VmCreateParams, VmSetParams } from './vm.js';
import { ImageImportParams } from './image.js';
import { checkSizeFlag, MAX_SIZE_BYTES, parseSize, sizeProblem } from './names.js';

describe('sizes are bounded safe integers', () => {
  it.each([
    ['512M', 512 * 1024 ** 2],
    ['4G', 4 * 1024 ** 3],
    ['8GiB', 8 * 1024 ** 3],
    ['16T', MAX_SIZE_BYTES],
    ['1048576', 1024 ** 2],
  ])('%s is %i bytes and allowed', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
    expect(sizeProblem(text)).toBeNull();
  });

  it.each([`1${'0'.repeat(400)}`, '99999999999T', '17T', '8000T', '0', '1K', 'lots', '-1G', '4 G B'])('%s is refused naming the range', (text) => {
    expect(sizeProblem(text)).toMatch(/from 1M to 16T/);
    expect(() => checkSizeFlag('--disk-size', text)).toThrow(/--disk-size .* from 1M to 16T/);
  });

  it('vm.create, vm.set and image.import schemas refuse out-of-range sizes and memory', () => {
    const c = VmCreateParams.safeParse({ diskSize: `1${'0'.repeat(400)}` });
    expect(c.success).toBe(false);
    expect(c.error?.issues[0].message).toMatch(/from 1M to 16T/);
    expect(VmCreateParams.safeParse({ diskSize: '17T' }).success).toBe(false);
    expect(VmSetParams.safeParse({ name: 'a', diskSize: '99999999999T' }).success).toBe(false);
    const m = VmSetParams.safeParse({ name: 'a', memoryMib: 4_000_000 });
    expect(m.success).toBe(false);
    expect(m.error?.issues[0].message).toMatch(/128 to 1048576 MiB/);
    expect(VmSetParams.safeParse({ name: 'a', memoryMib: 4096 }).success).toBe(true);
    expect(ImageImportParams.safeParse({ name: 'a', rootfsTar: '/x', size: '8M' }).error?.issues[0].message).toMatch(/from 16M to 16T/);
  });
});
