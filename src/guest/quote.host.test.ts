import { describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { quote, shellCommand } from './quote.js';

describe('quote', () => {
  it.each([
    ['', "''"],
    ['plain', 'plain'],
    ['/usr/bin/env', '/usr/bin/env'],
    ['--opt=value', '--opt=value'],
    ['core.fsmonitor=false', 'core.fsmonitor=false'],
    ['X=1', "'X=1'"],
    ['_A_1=', "'_A_1='"],
    ['PATH=/bin:/usr/bin', "'PATH=/bin:/usr/bin'"],
    ['1X=1', '1X=1'],
    ['if', "'if'"],
    ['time', "'time'"],
    ['iffy', 'iffy'],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ['$(id)', "'$(id)'"],
    ['*', "'*'"],
    ['~', "'~'"],
    ['a\nb', "'a\nb'"],
  ])('quote(%j) = %s', (value, want) => {
    expect(quote(value)).toBe(want);
  });
});

describe('shellCommand through a real sh', () => {
  const argvOf = async (argv: string[]) => {
    const r = await run(['sh', '-c', `${shellCommand(argv)}`], { check: false });
    return r;
  };

  it('runs `X=1 env` as the command named X=1, never as an assignment before env', async () => {
    const r = await argvOf(['X=1', 'env']);
    expect(r.code).toBe(127); // "X=1: not found": the word is the command, as argv says
    expect(r.stdout).not.toMatch(/^X=1$/m);
  });

  it.each([[['printf', '%s|', 'a b', "it's", '$(id)', '*', 'X=1', 'if']]])('passes every word through unchanged: %j', async (argv) => {
    const r = await argvOf(argv);
    expect(r.stdout).toBe(`${argv.slice(2).join('|')}|`);
  });
});
