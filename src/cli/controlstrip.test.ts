import { describe, expect, it } from 'vitest';
import { ControlStripper, stripControls } from './controlstrip.js';

describe('stripControls', () => {
  it.each([
    ['plain text\n', 'plain text\n'],
    ['tabs\tand ünïcödé ✓\n', 'tabs\tand ünïcödé ✓\n'],
    ['\x1b[0;32m  OK  \x1b[0m Started x\n', '  OK   Started x\n'],
    ['\x1b]0;pwned title\x07after', 'after'],
    ['\x1b]52;c;ZWNobyBoaQ==\x1b\\clip', 'clip'],
    ['\x1bPq#0;2;0;0;0\x1b\\dcs', 'dcs'],
    ['line\roverwrite\n', 'lineoverwrite\n'],
    ['\x1b[2J\x1b[Hclear', 'clear'],
    ['\x1bcreset', 'reset'],
    ['\x1b(Bcharset', 'charset'],
    ['bell\x07 back\x08space\x7f', 'bell backspace'],
    ['\x1b[?1049h\x1b[1;1Halt', 'alt'],
  ])('%j -> %j', (input, want) => {
    expect(stripControls(input)).toBe(want);
  });

  it('keeps its state across chunks (a sequence split anywhere is still removed)', () => {
    const text = Buffer.from('a\x1b]0;title\x07b\x1b[31mc\x1b[0m✓');
    for (let cut = 0; cut <= text.length; cut++) {
      const s = new ControlStripper();
      const out = Buffer.concat([s.push(text.subarray(0, cut)), s.push(text.subarray(cut))]).toString('utf8');
      expect(out).toBe('abc✓');
    }
  });
});

describe('vm ports table', () => {
  it('drops escape sequences from guest process names', async () => {
    const { portsTable } = await import('./commands/network.js');
    const text = portsTable({ name: 'web', mode: 'user', ports: [{ port: 80, process: '\x1b]0;owned\x07ngi\x1b[2Knx', addresses: ['0.0.0.0'], endpoint: null, url: null }] });
    expect(text).toContain('nginx');
    expect(text).not.toContain('\x1b');
  });
});
