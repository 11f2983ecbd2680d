import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { withVersionSkewHint } from './skew.js';

describe('withVersionSkewHint', () => {
  const unrecognized = new BangerError('bad_request', 'vm.exec: Unrecognized key: "reportDrift"', {
    details: { issues: [{ code: 'unrecognized_keys', keys: ['reportDrift'], path: [], message: 'Unrecognized key: "reportDrift"' }] },
  });

  it('says an older daemon refused a newer parameter, and what to do', () => {
    const e = withVersionSkewHint(unrecognized) as BangerError;
    expect(e).toBeInstanceOf(BangerError);
    expect(e.code).toBe('bad_request');
    expect(e.message).toBe('vm.exec: Unrecognized key: "reportDrift"; the running daemon is older than this banger: run `banger daemon stop` (the next command starts the current one) and try again');
  });

  it.each([
    ['another validation error', new BangerError('bad_request', 'vm.exec: name: Required', { details: { issues: [{ code: 'invalid_type', path: ['name'] }] } })],
    ['a bad request without issues', new BangerError('bad_request', 'no such thing')],
    ['another code', new BangerError('not_found', 'VM "x" not found', { details: { issues: [{ code: 'unrecognized_keys' }] } })],
    ['not a BangerError', new Error('boom')],
  ])('leaves %s as it is', (_l, err) => {
    expect(withVersionSkewHint(err)).toBe(err);
  });
});
