/**
 * Per-key mutexes. vmLock(id) guards a whole lifecycle operation; workspaceLock(id) guards
 * workspace guest I/O and is never awaited by lifecycle operations (DESIGN.md, Locks).
 */
export class KeyedMutex {
  private tails = new Map<string, Promise<void>>();
  private held = new Set<string>();

  /** Runs fn while holding the key's lock; waiters run in arrival order. */
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    this.held.add(key);
    try {
      return await fn();
    } finally {
      this.held.delete(key);
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }
}

export interface Locks {
  vm: KeyedMutex;
  workspace: KeyedMutex;
  /** Reservations (name uniqueness, IP allocation, publishing an artifact): held for milliseconds. */
  global: KeyedMutex;
}

export const createLocks = (): Locks => ({ vm: new KeyedMutex(), workspace: new KeyedMutex(), global: new KeyedMutex() });

/** Shares one in-flight promise per key: two requests for the same build share it. */
export class SingleFlight {
  private inflight = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing as Promise<T>;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
