/**
 * Which `Host` headers the loopback HTTP listener answers. A page on another site can make the
 * browser send requests to 127.0.0.1 under its own name (DNS rebinding); refusing every Host that
 * is not a loopback literal or `localhost` (on our port) closes that door before any route runs.
 */

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True when `host` (the raw Host header) names this listener on the loopback interface. */
export function loopbackHostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  if (!m) return false;
  if (!LOOPBACK_NAMES.has(m[1]!)) return false;
  // No port is port 80; we never listen there, so a missing port is a name used elsewhere.
  return m[2] !== undefined && Number(m[2]) === port;
}

/** The Origin of a WebSocket upgrade or a state-changing request must be this listener itself. */
export function loopbackOriginAllowed(origin: string | undefined, port: number): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && loopbackHostAllowed(url.host, port);
}
