/**
 * Guest text on the user's terminal: a hostile guest can write escape sequences to its serial
 * console (retitle the window, rewrite lines already printed, OSC 52 to set the clipboard, ...).
 * Human output of guest-originated text passes through this filter: escape sequences (CSI, OSC,
 * DCS and other strings, two-byte escapes) and C0 controls other than newline and tab are
 * dropped, byte-wise and across chunk boundaries, so UTF-8 text passes unchanged. Where the user
 * asked for the guest's own bytes (`vm exec`, `vm ssh`, `vm logs --raw`) nothing is filtered.
 */
import { Transform } from 'node:stream';

const ESC = 0x1b;
const BEL = 0x07;

type State = 'text' | 'esc' | 'escIntermediate' | 'csi' | 'string' | 'stringEsc';

export class ControlStripper {
  private state: State = 'text';

  /** Filters one chunk; state carries over to the next. */
  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    for (const b of chunk) {
      switch (this.state) {
        case 'text':
          if (b === ESC) this.state = 'esc';
          else if (b === 0x0a || b === 0x09 || (b >= 0x20 && b !== 0x7f)) out[n++] = b;
          break; // other C0 controls and DEL: dropped
        case 'esc':
          if (b === 0x5b) this.state = 'csi'; // ESC [
          else if (b === 0x5d || b === 0x50 || b === 0x58 || b === 0x5e || b === 0x5f) this.state = 'string'; // OSC, DCS, SOS, PM, APC
          else if (b >= 0x20 && b <= 0x2f) this.state = 'escIntermediate';
          else this.state = 'text'; // a two-byte escape (ESC c, ESC 7, ...): both bytes dropped
          break;
        case 'escIntermediate':
          if (b < 0x20 || b > 0x2f) this.state = 'text';
          break;
        case 'csi':
          if (b < 0x20 || b > 0x3f) this.state = 'text'; // the final byte (or garbage) ends it
          break;
        case 'string':
          if (b === BEL) this.state = 'text';
          else if (b === ESC) this.state = 'stringEsc';
          break;
        case 'stringEsc':
          this.state = b === 0x5c ? 'text' : b === ESC ? 'stringEsc' : 'string'; // ESC \ is the string terminator
          break;
      }
    }
    return out.subarray(0, n);
  }
}

/** One-shot form for a whole text. */
export function stripControls(text: string): string {
  return new ControlStripper().push(Buffer.from(text)).toString('utf8');
}

/** A stream form for piping guest output to stdout. */
export function controlStripStream(): Transform {
  const s = new ControlStripper();
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, s.push(chunk));
    },
  });
}
