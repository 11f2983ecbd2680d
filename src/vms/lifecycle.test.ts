import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { childDeleted } from './lifecycle.js';

describe('a fork child that failed', () => {
  it('says it was deleted, not to delete it (the boot error was written for a VM that is kept)', () => {
    const reason = 'VM "f-1" was restored from snapshot s but its identity could not be refreshed (lost the SSH connection)';
    const boot = new BangerError('internal', `${reason}; it still shares the snapshot's identity: delete it with \`banger vm delete f-1\``, { details: { reason } });
    const e = childDeleted('f-1', boot);
    expect(e).toMatchObject({ code: 'internal', message: `${reason}; VM "f-1" was deleted, nothing of it is left` });
    expect(e.message).not.toMatch(/banger vm delete/);
    expect(e.cause).toBe(boot);
  });

  it('keeps the code and message of any other error', () => {
    expect(childDeleted('f-2', new BangerError('not_found', 'snapshot "s" not found'))).toMatchObject({ code: 'not_found', message: 'snapshot "s" not found; VM "f-2" was deleted, nothing of it is left' });
    expect(childDeleted('f-2', new Error('EIO'))).toMatchObject({ code: 'internal', message: 'EIO; VM "f-2" was deleted, nothing of it is left' });
  });
});
