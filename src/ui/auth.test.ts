import { describe, expect, it } from 'vitest';
import { COOKIE_NAME, LOGIN_TTL_MS, createUiAuth, parseCookies, sessionCookie } from './auth.js';

const secret = Buffer.alloc(32, 7);
const setup = () => {
  let t = 1_000_000;
  let n = 0;
  const auth = createUiAuth({ secret, now: () => t, random: (k) => Buffer.alloc(k, ++n) });
  return { auth, advance: (ms: number) => (t += ms) };
};
const cookieOf = (v: string) => `${COOKIE_NAME}=${v}`;

describe('parseCookies', () => {
  it.each([
    ['a=1; b=2', { a: '1', b: '2' }],
    [' a = 1 ;b=x=y', { a: '1', b: 'x=y' }],
    ['a=1; a=2', { a: '1' }],
    ['junk; =v; c=3', { c: '3' }],
    [undefined, {}],
  ])('%s', (h, want) => {
    expect(Object.fromEntries(parseCookies(h))).toEqual(want);
  });
});

describe('ui auth', () => {
  it('a login token works once and becomes an HttpOnly SameSite=Strict session cookie', () => {
    const { auth } = setup();
    const t = auth.issueLogin();
    const c = auth.login(t);
    expect(c).toMatch(/^[\w-]+\.[\w-]{43}$/);
    expect(auth.login(t)).toBeNull(); // one-time
    expect(sessionCookie(c!)).toMatch(/HttpOnly; SameSite=Strict; Path=\/ui$/);
    expect(auth.session(`other=1; ${cookieOf(c!)}`)).toBe(c!.split('.')[0]);
  });

  it.each([
    ['unknown token', 'nope'],
    ['empty token', ''],
    ['no token', null],
  ])('refuses a login with %s', (_n, token) => {
    const { auth } = setup();
    auth.issueLogin();
    expect(auth.login(token)).toBeNull();
  });

  it('a login token expires', () => {
    const { auth, advance } = setup();
    const t = auth.issueLogin();
    advance(LOGIN_TTL_MS + 1);
    expect(auth.login(t)).toBeNull();
  });

  it.each([
    ['no cookie', undefined],
    ['another cookie', 'x=1'],
    ['a forged signature', (c: string) => cookieOf(`${c.split('.')[0]}.${'A'.repeat(43)}`)],
    ['a different session id', (c: string) => cookieOf(`AAAAAAAAAAAA.${c.split('.')[1]}`)],
    ['no signature', (c: string) => cookieOf(c.split('.')[0]!)],
  ])('refuses a session with %s', (_n, make) => {
    const { auth } = setup();
    const c = auth.login(auth.issueLogin())!;
    const header = typeof make === 'function' ? make(c) : make;
    expect(auth.session(header)).toBeNull();
  });

  it('a session signed with another secret is refused (and one signed with this secret survives a restart)', () => {
    const { auth } = setup();
    const c = auth.login(auth.issueLogin())!;
    expect(createUiAuth({ secret: Buffer.alloc(32, 8) }).session(cookieOf(c))).toBeNull();
    expect(createUiAuth({ secret }).session(cookieOf(c))).not.toBeNull();
  });

  it.each([
    ['its own token', (a: ReturnType<typeof setup>['auth'], s: string) => a.csrf(s), true],
    ['no header', () => undefined, false],
    ['an array', (a: ReturnType<typeof setup>['auth'], s: string) => [a.csrf(s)], false],
    ['another session\'s token', (a: ReturnType<typeof setup>['auth']) => a.csrf('someoneelse'), false],
    ['the session id itself', (_a: unknown, s: string) => s, false],
  ])('csrf check with %s → %s', (_n, make, ok) => {
    const { auth } = setup();
    const s = auth.session(cookieOf(auth.login(auth.issueLogin())!))!;
    expect(auth.csrfOk(s, make(auth, s) as string | string[] | undefined)).toBe(ok);
  });
});
