import { describe, expect, it } from 'vitest';
import { bannerBound } from './wait.js';

describe('bannerBound', () => {
  it.each([
    [0, 3000, 10_000, 3000],
    [1, 3000, 10_000, 3000],
    [2, 3000, 10_000, 3000],
    [3, 3000, 10_000, null], // every fourth consecutive stall: no banner bound, a slow guest gets in
    [4, 3000, 10_000, 3000],
    [7, 3000, 10_000, null],
    [0, 3000, 2000, null], // the attempt bound is already shorter
    [0, 3000, 3000, null],
  ])('after %i stalls, banner %i, attempt %i -> %s', (stalls, banner, attempt, want) => {
    expect(bannerBound(stalls, banner, attempt)).toBe(want);
  });
});
