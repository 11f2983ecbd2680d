/**
 * A bounded async queue of events for one streaming subscriber (a Start/Connect/WatchDir stream).
 * A subscriber that falls more than `maxBytes` behind is ended with an error instead of holding the
 * daemon's memory hostage; the producer never waits.
 */
import { BangerError } from '../api/errors.js';

export class EventQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #bytes = 0;
  #wake: (() => void) | null = null;
  #done = false;
  #error: Error | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (item: T) => number,
  ) {}

  get closed(): boolean {
    return this.#done;
  }

  push(item: T): void {
    if (this.#done) return;
    this.#bytes += this.sizeOf(item);
    if (this.#bytes > this.maxBytes) return this.close(new BangerError('unavailable', `the stream fell more than ${this.maxBytes} bytes behind and was ended; read faster`));
    this.#items.push(item);
    this.#wake?.();
  }

  /** Ends the stream after the queued items (with an error, if given). */
  close(err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = err ?? null;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        this.#bytes -= this.sizeOf(item);
        yield item;
        continue;
      }
      if (this.#done) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
  }
}
