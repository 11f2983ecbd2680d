import { describe, expect, it } from 'vitest';
import { NETWORK_OVERRIDES_SINCE, atLeast, checkFirecrackerVersion, parseFirecrackerVersion } from './version.js';

describe('parseFirecrackerVersion', () => {
  it.each([
    ['Firecracker v1.14.1\n', { major: 1, minor: 14, patch: 1, text: '1.14.1' }],
    ['Firecracker v1.5.0\n\nSupported snapshot versions: v1.0.0, v1.1.0\n', { major: 1, minor: 5, patch: 0, text: '1.5.0' }],
    ['Firecracker v1.10.0-dev\n', { major: 1, minor: 10, patch: 0, text: '1.10.0-dev' }],
    ['Firecracker 1.7.0', { major: 1, minor: 7, patch: 0, text: '1.7.0' }],
    ['Firecracker v0.25.2\n', { major: 0, minor: 25, patch: 2, text: '0.25.2' }],
  ])('%j', (input, expected) => {
    expect(parseFirecrackerVersion(input)).toEqual(expected);
  });

  it.each(['', 'jailer v1.14.1', 'firecracker: command not found', 'Firecracker vX'])('rejects %j', (input) => {
    expect(parseFirecrackerVersion(input)).toBeNull();
  });
});

describe('checkFirecrackerVersion', () => {
  const v = (text: string) => parseFirecrackerVersion(`Firecracker v${text}`)!;
  it.each([
    ['0.25.2', 'error', /too old.*1\.5 or newer/],
    ['1.4.1', 'error', /too old/],
    ['1.5.0', 'warn', /no ACPI device discovery/],
    ['1.7.0', 'warn', /no ACPI/],
    ['1.8.0', 'ok', null],
    ['1.14.1', 'ok', null],
    ['1.15.0', 'warn', /newer than the tested range 1\.5 – 1\.14/],
    ['2.0.0', 'warn', /newer than the tested range/],
  ] as const)('%s -> %s', (text, level, message) => {
    const verdict = checkFirecrackerVersion(v(text));
    expect(verdict.level).toBe(level);
    if (message) expect(verdict.messages.join(' ')).toMatch(message);
    else expect(verdict.messages).toEqual([]);
  });
});

describe('feature gates', () => {
  it.each([
    ['1.12.0', false],
    ['1.13.0', true],
    ['1.14.1', true],
    ['2.0.0', true],
  ] as const)('network_overrides on %s: %s', (text, expected) => {
    expect(atLeast(parseFirecrackerVersion(`Firecracker v${text}`)!, NETWORK_OVERRIDES_SINCE)).toBe(expected);
  });
});
