/**
 * The web UI's access rules, pure (no I/O): a one-time login token (what `banger ui` prints)
 * becomes a session cookie signed with the per-install secret; every state-changing request must
 * also carry the session's CSRF token (a value only a page served to that session can read).
 * Signed, not stored: a session survives a daemon restart; login tokens live in memory only.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_NAME = 'banger_ui';
/** How long a printed login URL stays usable. */
export const LOGIN_TTL_MS = 5 * 60_000;

export interface UiAuth {
  /** A new one-time login token (for the URL `banger ui` prints). */
  issueLogin(): string;
  /** Consumes a login token: the Set-Cookie value for a new session, or null (unknown, used or expired). */
  login(token: string | null): string | null;
  /** The session id the request's Cookie header proves, or null. */
  session(cookieHeader: string | undefined): string | null;
  /** The CSRF token pages of this session send back in a header. */
  csrf(session: string): string;
  /** Whether `header` is this session's CSRF token. */
  csrfOk(session: string, header: string | string[] | undefined): boolean;
}

const b64 = (b: Buffer) => b.toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `a=1; b=2` → Map; a malformed pair is skipped, the first of two same names wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of (header ?? '').split(';')) {
    const part = raw.trim();
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!out.has(k)) out.set(k, part.slice(i + 1).trim());
  }
  return out;
}

/** The Set-Cookie header for a session: script cannot read it, no other site's request carries it. */
export function sessionCookie(value: string): string {
  return `${COOKIE_NAME}=${value}; HttpOnly; SameSite=Strict; Path=/ui`;
}

export function createUiAuth(opts: { secret: Buffer; now?: () => number; random?: (n: number) => Buffer }): UiAuth {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? randomBytes;
  const mac = (what: string) => b64(createHmac('sha256', opts.secret).update(what).digest());
  const pending = new Map<string, number>(); // login token → expiry
  const prune = () => {
    for (const [t, exp] of pending) if (exp <= now()) pending.delete(t);
  };
  return {
    issueLogin() {
      prune();
      const t = b64(random(24));
      pending.set(t, now() + LOGIN_TTL_MS);
      return t;
    },
    login(token) {
      prune();
      if (!token || !pending.has(token)) return null;
      pending.delete(token); // one use
      const id = b64(random(18));
      return `${id}.${mac(`session:${id}`)}`;
    },
    session(cookieHeader) {
      const v = parseCookies(cookieHeader).get(COOKIE_NAME);
      const m = v ? /^([A-Za-z0-9_-]{8,64})\.([A-Za-z0-9_-]{43})$/.exec(v) : null;
      return m && sameText(m[2]!, mac(`session:${m[1]}`)) ? m[1]! : null;
    },
    csrf: (session) => mac(`csrf:${session}`),
    csrfOk(session, header) {
      return typeof header === 'string' && sameText(header, mac(`csrf:${session}`));
    },
  };
}
