/**
 * One structured logger, passed down through deps. Tests use `silentLogger`.
 * Level: env BANGER_LOG_LEVEL (tests set it) wins over config.toml's `log_level`, then `info`.
 */
import { pino, type Logger } from 'pino';
export type { Logger };

export function createLogger(opts: { file?: string; level?: string | null } = {}): Logger {
  const level = process.env.BANGER_LOG_LEVEL || opts.level || 'info';
  if (opts.file) return pino({ level }, pino.destination({ dest: opts.file, mkdir: true, sync: false }));
  return pino({ level }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
