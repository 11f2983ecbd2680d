import { describe, expect, it } from 'vitest';
import { checkOwner, ownerName, parsePasswdLine } from './users.js';

describe('owner resolution', () => {
  it.each([
    ['alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash', { name: 'alice', uid: 1001, gid: 1001, home: '/home/alice' }],
    ['svc:x:998:997::/var/lib/svc:/usr/sbin/nologin\n', { name: 'svc', uid: 998, gid: 997, home: '/var/lib/svc' }],
    ['broken:x:abc:1::/home/b:/bin/sh', null],
    ['short:x:1:1', null],
    ['rel:x:5:5::home:/bin/sh', null],
  ])('parsePasswdLine(%j)', (line, want) => expect(parsePasswdLine(line)).toEqual(want));

  it.each([
    ['alice', undefined, 'alice'],
    [undefined, 'bob', 'bob'],
    ['alice', 'bob', 'alice'],
  ])('--owner %s with SUDO_USER %s → %s', (flag, sudo, want) => expect(ownerName(flag, sudo)).toBe(want));

  it('without --owner and SUDO_USER it says what to do', () => expect(() => ownerName(undefined, undefined)).toThrow(/pass --owner USER/));
  it('refuses root by name (flag or SUDO_USER)', () => {
    expect(() => ownerName('root', undefined)).toThrow(/cannot be root/);
    expect(() => ownerName(undefined, 'root')).toThrow(/cannot be root/);
  });
  it('refuses a uid-0 alias', () => expect(() => checkOwner({ name: 'toor', uid: 0, gid: 0, home: '/root' })).toThrow(/uid 0/));
});
