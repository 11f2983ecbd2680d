import { describe, expect, it } from 'vitest';
import { loopbackHostAllowed, loopbackOriginAllowed } from './hosts.js';

describe('loopbackHostAllowed', () => {
  it.each([
    ['127.0.0.1:4000', true],
    ['localhost:4000', true],
    ['LOCALHOST:4000', true],
    ['[::1]:4000', true],
    ['127.0.0.1:4001', false],
    ['127.0.0.1', false],
    ['evil.example:4000', false],
    ['127.0.0.1.evil.example:4000', false],
    ['localhost.:4000', false],
    ['10.0.0.1:4000', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (host, ok) => {
    expect(loopbackHostAllowed(host, 4000)).toBe(ok);
  });
});

describe('loopbackOriginAllowed', () => {
  it.each([
    ['http://127.0.0.1:4000', true],
    ['http://localhost:4000', true],
    ['https://127.0.0.1:4000', false],
    ['http://evil.example:4000', false],
    ['null', false],
    [undefined, false],
  ])('%s → %s', (origin, ok) => {
    expect(loopbackOriginAllowed(origin, 4000)).toBe(ok);
  });
});
