/**
 * A daemon started from an older build than the CLI refuses a parameter added since (the API's
 * params are strict objects): say what that means and what to do, instead of zod's "Unrecognized key".
 * The CLI's params are typed by the same schemas as its own build's daemon, so an unrecognized key
 * from the daemon means the two builds differ. Pure.
 */
import { BangerError } from '../api/errors.js';

export function withVersionSkewHint(err: unknown): unknown {
  if (!(err instanceof BangerError) || err.code !== 'bad_request') return err;
  const issues = err.details?.issues;
  if (!Array.isArray(issues) || !issues.some((i) => (i as { code?: unknown } | null)?.code === 'unrecognized_keys')) return err;
  return new BangerError(
    'bad_request',
    `${err.message}; the running daemon is older than this banger: run \`banger daemon stop\` (the next command starts the current one) and try again`,
    { details: err.details, cause: err },
  );
}
