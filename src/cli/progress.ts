/** Renders progress events: a spinner line with elapsed time on a TTY, plain lines otherwise. */
import type { ProgressEvent } from '../api/progress.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface ProgressView {
  onProgress(e: ProgressEvent): void;
  /** Stops the spinner and prints a final line (e.g. "ready in 9.1s"). */
  done(finalLine?: string): void;
}

export const formatElapsed = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function plainLine(e: ProgressEvent): string {
  return `[${formatElapsed(e.elapsedMs)}] ${e.stage}${e.message ? `: ${e.message}` : ''}`;
}

export function createProgressView(out: NodeJS.WriteStream = process.stderr, quiet = false): ProgressView {
  const t0 = Date.now();
  if (quiet) return { onProgress: () => {}, done: () => {} };
  if (!out.isTTY) {
    return {
      onProgress: (e) => out.write(`${plainLine(e)}\n`),
      done: (line) => line && out.write(`${line}\n`),
    };
  }
  let current: ProgressEvent | null = null;
  let frame = 0;
  const draw = () => {
    if (!current) return;
    const text = `${FRAMES[frame++ % FRAMES.length]} ${current.stage}${current.message ? `: ${current.message}` : ''} (${formatElapsed(Date.now() - t0)})`;
    out.write(`\r\x1b[2K${text.slice(0, (out.columns || 80) - 1)}`);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    onProgress: (e) => {
      current = e;
      draw();
    },
    done: (line) => {
      clearInterval(timer);
      if (current) out.write('\r\x1b[2K');
      if (line) out.write(`${line}\n`);
    },
  };
}
