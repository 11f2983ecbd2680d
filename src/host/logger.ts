/** One structured logger, passed down through deps. Tests use `silentLogger`. */
import { pino, type Logger } from 'pino';
export type { Logger };

export function createLogger(opts: { file?: string; level?: string } = {}): Logger {
  const level = opts.level ?? process.env.BANGER_LOG_LEVEL ?? 'info';
  if (opts.file) return pino({ level }, pino.destination({ dest: opts.file, mkdir: true, sync: false }));
  return pino({ level }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
